"""Each benchmark script still runs end to end on tiny settings and ends with one JSON line.

Smoke tests only: no timing is asserted here (speed figures are read from the scripts' own output).
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SHARED

pytestmark = pytest.mark.e2e  # each starts a script in its own interpreter

SCRIPTS = {
    "lm_overhead.py": (["--steps", "4", "--rounds", "1"], "tinyshakespeare", None),
    "lm_peer.py": (["--steps", "6", "--rounds", "1"], "tinyshakespeare", None),
    "noise_scale_overhead.py": (["--steps", "4", "--rounds", "1", "--every", "2"], "tinyshakespeare", None),
    "vision_throughput.py": (["--images", "128", "--rounds", "1", "--precisions", "fp32"], "fashion-mnist", None),
    "vit_preset_epoch.py": (
        ["--images", "356", "--valid-size", "100", "--device", "cpu", "--precisions", "fp32"],
        None,
        None,
    ),
    "landscape.py": (["--steps", "3", "--rounds", "1"], "mnist", "loss_landscapes"),
    "decode.py": (["--sentences", "4", "--tokens", "5", "--rounds", "1", "--data", "none"], None, None),
    "seq2seq_overhead.py": (["--steps", "3", "--rounds", "1", "--data", "none"], None, None),
    "masked_overhead.py": (["--steps", "3", "--rounds", "1", "--data", "none"], None, None),
    "feature_cache.py": (["--epochs", "2", "--n", "60", "--seeds", "1"], None, "all_minilm_l6_v2"),
    "parallel.py": (["--n", "300", "--epochs", "1", "--no-ray"], None, None),
    "pack.py": (["--smoke"], "fashion-mnist", None),
    "pack.py lenets": (["--smoke", "--lenets-only"], "mnist", None),  # what --device cuda runs, here on the CPU
    "pack_transformer.py": (["--small", "--rounds", "1"], None, None),
    "serve.py": (
        ["--optimizers", "2", "--lrs", "2", "--seeds", "1", "--rounds", "20", "--repeat", "1", "--big-runs", "8"],
        None,
        "fastapi",
    ),
    "report_scale.py": (["--optimizers", "2", "--lrs", "2", "--seeds", "1", "--rounds", "3"], None, None),
    "scaling_fit.py": (["--resamples", "2", "--grid-starts", "2", "--data", "none"], None, None),
    "track_overhead.py": (["--steps", "4", "--rounds", "1"], "tinyshakespeare", None),
}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_benchmark_prints_one_json_object_last(script: str) -> None:
    args, data, library = SCRIPTS[script]
    name = script.split()[0]  # an entry may be a script with settings of its own: "SCRIPT what"
    if data and not (SHARED / data).exists():
        pytest.skip(f"real data not found at {SHARED / data}")
    if library and importlib.util.find_spec(library) is None:
        pytest.skip(f"{library} not installed (pip install -e '.[bench]')")
    out = subprocess.run(
        [sys.executable, f"benchmarks/{name}", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["benchmark"] == name.removesuffix(".py")
    assert all(math.isfinite(v) for v in result.values() if isinstance(v, float))
    speeds = [v for k, v in result.items() if k.startswith("ratio") or k.endswith("_s")]
    speeds = [x for v in speeds for x in (v if isinstance(v, list) else [v])]  # a list: one figure per round
    assert speeds and all(v > 0 for v in speeds)
