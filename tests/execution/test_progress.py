"""What `trainlab run` says while it trains, in a log (no terminal): plain lines inside each epoch (where it
is, its loss, examples a second, the time to go), then one line per finished epoch."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_study
from trainlab.execution import progress


def test_a_log_gets_progress_lines_inside_epochs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "PLAIN_EVERY_S", 0.0)  # a line at every step, as a long epoch gets every 30 s
    study = write_study(tmp_path, runs=[{"optim.name": "sgd"}])
    result = run_cli("run", str(study))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    inside = [
        i for i, line in enumerate(lines) if re.search(r"epoch 1/3 step \d+/\d+ loss [\d.]+ [\d,]+ samples/s", line)
    ]
    ended = next(i for i, line in enumerate(lines) if "epoch 1/3 done" in line)
    assert inside and max(inside) < ended and all("s to go" in lines[i] for i in inside)
