"""The batch_size kind: one batch size is refused; a tiny sweep reports the frontier, B_crit with its
interval and the measured noise scale beside it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import write_study
from tests.trained import Trained
from trainlab.api import check_study
from trainlab.errors import TrainlabError


def test_a_study_with_one_batch_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        TrainlabError, match=r"batch_size: the study must vary train.batch_size \(it has 1 value: \[64\]\)"
    ):
        check_study(write_study(tmp_path, kind="batch_size", batch_size={"target": 2.0}))


def test_a_sweep_reports_the_critical_batch_size_and_the_noise_scale(trained: Callable[[str], Trained]) -> None:
    """Four batch sizes at one learning rate, validated every 2 steps with the noise scale measured: the
    frontier table has a row per batch size that reached the target, and the finding gives B_crit with a
    bootstrap interval and B_simple at the target."""
    study = trained("batch_size")
    out, page = study.page.parent, study.page.read_text()
    rows = (out / "batch_size.csv").read_text().strip().splitlines()[1:]
    assert 2 <= len(rows) <= 4 and all(r.startswith("sgd,") for r in rows)
    assert "B_crit = E_min/S_min = " in page and "95 % bootstrap interval" in page
    assert "The simple noise scale at the target" in page
    assert (out / "batch_size.png").exists()
