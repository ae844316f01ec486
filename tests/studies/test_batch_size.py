"""The batch_size kind: one batch size is refused; a tiny sweep reports the frontier, B_crit with its
interval and the measured noise scale beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainlab.api import check_study, report_study, run_study
from trainlab.errors import TrainlabError
from tests.conftest import TINY_BASE, write_study


def test_a_study_with_one_batch_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TrainlabError, match=r"batch_size: the study must vary train.batch_size \(it has 1 value: \[64\]\)"):
        check_study(write_study(tmp_path, kind="batch_size", batch_size={"target": 2.0}))


def test_a_sweep_reports_the_critical_batch_size_and_the_noise_scale(tmp_path: Path) -> None:
    """Four batch sizes at one learning rate, validated every 2 steps with the noise scale measured: the
    frontier table has a row per batch size that reached the target, and the finding gives B_crit with a
    bootstrap interval and B_simple at the target."""
    study = write_study(tmp_path, kind="batch_size", batch_size={"target": 2.15, "resamples": 50},
                        base={**TINY_BASE, "optim": {"name": "sgd", "lr": 0.3},
                              "train": {"epochs": 3, "eval_every_steps": 2, "gradient_noise_scale": True,
                                        "noise_scale_every": 2}},
                        grid={"train.batch_size": [16, 32, 64, 128]})
    assert {o.status for o in run_study(study)} == {"done"}
    out = tmp_path / "report"
    page = report_study(study, out=out).read_text()
    rows = (out / "batch_size.csv").read_text().strip().splitlines()[1:]
    assert 2 <= len(rows) <= 4 and all(r.startswith("sgd,") for r in rows)
    assert "B_crit = E_min/S_min = " in page and "95 % bootstrap interval" in page
    assert "The simple noise scale at the target" in page
    assert (out / "batch_size.png").exists()
