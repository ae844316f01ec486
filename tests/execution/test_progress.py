"""What `trainlab run` says while it trains, in a log (no terminal): on stderr, a line for each phase that is not
training (reading the data, the final test evaluation), plain lines inside each epoch (where it is, its loss,
examples a second, the time to go), then one line per finished epoch; stdout keeps the results alone, and
`--quiet` silences the rest."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import assert_user_error, run_cli, write_study
from trainlab import phases


def test_a_log_gets_phase_lines_and_progress_lines_inside_epochs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --progress-every 0 (a line at every step, as a long epoch gets one every 30 s) and every phase said
    (as one longer than a second is) the log has the data phase first, step lines inside epoch 1 before its
    end, and the test evaluation after the last epoch."""
    monkeypatch.setattr(phases, "SAID_AFTER_S", 0.0)
    study = write_study(tmp_path, runs=[{"optim.name": "sgd"}])
    result = run_cli("run", str(study), "--progress-every", "0")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    data = next(i for i, line in enumerate(lines) if re.match(r"trainlab: data teacher_attention: reading", line))
    inside = [
        i for i, line in enumerate(lines) if re.search(r"epoch 1/3 step \d+/\d+ loss [\d.]+ [\d,]+ samples/s", line)
    ]
    ended = next(i for i, line in enumerate(lines) if "epoch 1/3 done" in line)
    last = next(i for i, line in enumerate(lines) if "epoch 3/3 done" in line)
    tested = next(i for i, line in enumerate(lines) if re.search(r"test evaluation on 200 examples", line))
    assert data < min(inside) and max(inside) < ended < last < tested
    assert all("s to go" in lines[i] for i in inside)
    assert result.stdout.strip() == "1 runs: 1 done"


def test_quiet_leaves_the_results_alone(tmp_path: Path) -> None:
    """--quiet: nothing on stderr, the summary on stdout; `--quiet` is accepted by every command."""
    study = write_study(tmp_path, runs=[{"optim.name": "sgd"}])
    result = run_cli("run", str(study), "--quiet")
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.strip() == "1 runs: 1 done"
    shown = run_cli("ls", "--store", str(tmp_path / "store"), "--quiet")
    assert shown.returncode == 0 and "1 runs" in shown.stdout


def test_a_negative_progress_interval_is_one_line(tmp_path: Path) -> None:
    """--progress-every below 0 is refused before any work, in one line."""
    study = write_study(tmp_path, runs=[{"optim.name": "sgd"}])
    assert_user_error(run_cli("run", str(study), "--progress-every", "-5"), "--progress-every: must be 0 or more")
    assert not (tmp_path / "store").exists()
