"""What caching a frozen encoder's features saves: the frozen-encoder run of csc413-bert (all-MiniLM-L6-v2 on
verbal arithmetic, only the head trains) with `model.cache_features` off and on, side by side in one
invocation (each a fresh `trainlab run` process on its own store). Reports training seconds of the first
epoch (features computed) and of the later ones (features reused), and that both reach the same metrics.
Prints one JSON line last.

    python benchmarks/feature_cache.py [--epochs 5] [--n 4000] [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from trainlab.store import Store

ROOT = Path(__file__).resolve().parent.parent
STUDY = ROOT / "studies" / "csc413-bert.yaml"


def _study(folder: Path, seeds: int) -> Path:
    """The preset with its first `seeds` seeds (its three by default)."""
    spec = yaml.safe_load(STUDY.read_text())
    spec["seeds"] = spec["seeds"][:seeds]
    path = folder / STUDY.name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _run(study: Path, store: Path, epochs: int, n: int, cached: bool) -> dict[str, float]:
    sets = {"train.epochs": epochs, "data.n": n, "model.cache_features": str(cached).lower()}
    args = [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainlab.cli",
            "run",
            str(study),
            "--only",
            "1",
            "--store",
            str(store),
            "--quiet",
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    db = Store(store, read_only=True)
    try:
        m = db.metrics()
    finally:
        db.close()
    per_epoch = m[(m["split"] == "train") & (m["name"] == "seconds")].groupby("epoch")["value"].mean()  # over seeds
    valid = m[(m["split"] == "valid") & (m["name"] == "accuracy") & (m["epoch"] == epochs)]["value"].mean()
    later = per_epoch.iloc[1:]
    return {
        "first_epoch_s": float(per_epoch.iloc[0]),
        "later_epoch_s": float(later.mean()),
        "valid_accuracy": float(valid),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--n", type=int, default=4000)
    p.add_argument("--seeds", type=int, choices=(1, 2, 3), default=3, help="the preset's first seeds")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        study = _study(Path(folder), args.seeds)
        plain = _run(study, Path(folder) / "plain", args.epochs, args.n, cached=False)
        cached = _run(study, Path(folder) / "cached", args.epochs, args.n, cached=True)
    print(
        json.dumps(
            {
                "benchmark": "feature_cache",
                "epochs": args.epochs,
                "n": args.n,
                "seeds": args.seeds,
                **{f"computed_{k}": round(v, 4) for k, v in plain.items()},
                **{f"cached_{k}": round(v, 4) for k, v in cached.items()},
                "ratio_later_epochs_computed_vs_cached": round(plain["later_epoch_s"] / cached["later_epoch_s"], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
