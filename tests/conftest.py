"""Shared fixtures: tiny studies on real (small) generated data that train in about a second on CPU."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]  # the repository
SHARED = ROOT.parent / "shared" / "data"  # real datasets on our machines (see ../shared/data/README.md)


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C tests need SIGINT to arrive. A background job of a non-interactive shell (`.ci/run &`) starts
    with SIGINT ignored, which its children inherit; a Python handler instead is reset to the default on
    exec, so the runs the tests start (and their workers) can be interrupted again."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@contextmanager
def interrupted_after(epoch: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Inside it, every run stops with Ctrl-C once epoch `epoch` is recorded and checkpointed (a hook
    after the Recorder)."""
    import trainlab.execution.runner as runner
    from trainlab.train import Hook

    class StopAfter(Hook):
        def on_epoch_end(self, loop, rows, improved) -> None:  # noqa: ANN001
            if loop.state.epoch == epoch:
                raise KeyboardInterrupt

    hooks = runner._hooks
    with monkeypatch.context() as patch:
        patch.setattr(runner, "_hooks", lambda *args: [*hooks(*args), StopAfter()])
        yield


def needs_gpu(test: Callable[..., None]) -> Callable[..., None]:
    """Marks a GPU test: `pytest -m gpu` runs them all on a CUDA machine; elsewhere they are skipped."""
    return pytest.mark.gpu(pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")(test))


TINY_BASE: dict[str, Any] = {
    "data": {"name": "teacher_attention", "n": 600, "test_n": 200, "valid_fraction": 0.3},
    "model": {"name": "attention_classifier", "dim": 16, "heads": 2},
    "optim": {"name": "sgd", "lr": 0.1},
    "schedule": {"name": "plateau", "factor": 0.5, "patience": 1},
    "train": {"epochs": 3, "batch_size": 64, "seed": 0},
}


def write_study(folder: Path, **fields: Any) -> Path:
    """A study file in `folder` with the tiny base, its store inside `folder`."""
    study = {"name": "tiny", "store": str(folder / "store"), "base": TINY_BASE, **fields}
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


@pytest.fixture
def tiny_study(tmp_path: Path) -> Path:
    return write_study(tmp_path, runs=[{"optim.name": "sgd"}, {"optim.name": "adam", "optim.lr": 0.01}])


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`trainlab ARGS` through `trainlab.cli.main` (what the console script runs before it exits), in this
    interpreter, its output captured: the exit code and both streams as a user sees them, without the 2-3 s a
    fresh interpreter costs to start. An exception main() lets through fails the test, as a traceback would."""
    from trainlab import cli

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = cli.main(list(args))
        except SystemExit as exit_:  # argparse's usage errors
            code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    return subprocess.CompletedProcess(["trainlab", *args], code, out.getvalue(), err.getvalue())


def trainlab_command(*args: str) -> list[str]:
    """The command line of `trainlab ARGS` in a fresh interpreter of this Python."""
    return [sys.executable, "-m", "trainlab.cli", *args]


def run_cli_process(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run `trainlab ARGS` in a fresh interpreter, as a user would."""
    return subprocess.run(trainlab_command(*args), capture_output=True, text=True, timeout=timeout)


def assert_user_error(result: subprocess.CompletedProcess[str], pattern: str) -> None:
    """Exit 2, one line on stderr naming the problem, no traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trainlab: error: "), result.stderr
    assert pattern in lines[0], lines[0]


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Any]:
    """trained(kind): that kind's tiny study taken through the kind contract once per session
    (tests/trained.py); read it, or copy it before writing."""
    from tests.trained import take_through_contract

    done: dict[str, Any] = {}

    def get(kind: str) -> Any:
        if kind not in done:
            done[kind] = take_through_contract(kind, tmp_path_factory.mktemp(kind))
        return done[kind]

    return get
