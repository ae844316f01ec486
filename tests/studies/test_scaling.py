"""The scaling kind: a ladder is refused below three models; a tiny character-GPT ladder on Tiny
Shakespeare trains and reports its IsoFLOP profiles, fits and figures."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import SHARED
from trainlab.api import check_study, report_study, run_study
from trainlab.errors import TrainlabError

TEXT = SHARED / "tinyshakespeare"

BASE = {
    "data": {
        "name": "tinyshakespeare",
        "root": str(TEXT),
        "seq_len": 32,
        "max_train_tokens": 60_000,
        "max_eval_tokens": 4_000,
    },
    "model": {"name": "gpt", "width": 8, "heads": 2, "layers": 1, "norm": "pre"},
    "optim": {"name": "adamw", "lr": 0.003},
    "train": {"batch_size": 8},
}
# Smaller models take more steps, so every model's FLOPs cover 1.2e8 to 5.8e8.
LADDER = [
    {"model.width": 8, "train.steps": 240, "train.eval_every_steps": 20},
    {"model.width": 16, "train.steps": 120, "train.eval_every_steps": 10},
    {"model.width": 32, "train.steps": 60, "train.eval_every_steps": 5},
]


def _study(folder: Path, runs: list[dict], **scaling: object) -> Path:
    path = folder / "ladder.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "ladder",
                "kind": "scaling",
                "store": str(folder / "store"),
                "base": BASE,
                "runs": runs,
                "scaling": {"budgets": [1.5e8, 3e8, 5e8], "resamples": 8, **scaling},
            }
        )
    )
    return path


def test_a_ladder_of_two_models_is_refused(tmp_path: Path) -> None:
    """Three model configurations at least: the error counts them."""
    with pytest.raises(
        TrainlabError, match="scaling: a ladder needs at least three model configurations; ladder has 2"
    ):
        check_study(_study(tmp_path, LADDER[:2]))


@pytest.mark.e2e  # real data (Tiny Shakespeare)
@pytest.mark.skipif(not TEXT.exists(), reason=f"Tiny Shakespeare not found at {TEXT}")
def test_a_character_gpt_ladder_reports_isoflop_profiles_and_fits(tmp_path: Path) -> None:
    """Trained and reported: the page has the scaling section with the fits table (the parametric fit's
    five parameters with intervals), the IsoFLOP table with one row per budget, and the figures; a budget
    beyond every run is named in a note."""
    path = _study(tmp_path, LADDER, target_flops=1e10)
    assert {o.status for o in run_study(path)} == {"done"}
    path = _study(tmp_path, LADDER, target_flops=1e10, budgets=[1.5e8, 3e8, 5e8, 1e12])
    run_study(path)  # nothing to train: the study's new section is stored
    out = tmp_path / "report"
    page = report_study(path, out=out).read_text()
    assert "<h2>Scaling</h2>" in page and "budget 1e+12 FLOPs: 0 models reach it" in page
    fits = (out / "scaling_fits.md").read_text()
    for name in ("| E |", "| alpha |", "| beta |", "fit status"):
        assert name in fits
    assert fits.count(" [") >= 5  # bootstrap intervals
    assert len((out / "isoflop.csv").read_text().strip().splitlines()) == 1 + 4
    assert {"scaling_loss_vs_flops.png", "scaling_isoflop.png", "scaling_residuals.png"} <= {
        p.name for p in out.iterdir()
    }
