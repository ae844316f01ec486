"""Device, precision and compile checks made before any training starts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from rich.console import Console

from tests.conftest import write_study
from trainlab.api import run_study
from trainlab.errors import TrainlabError
from trainlab.spec import TrainConfig
from trainlab.train.build import check_train_options

BF16, COMPILE = TrainConfig(precision="bf16"), TrainConfig(compile=True)


def test_bf16_on_a_gpu_without_it_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pre-Ampere GPU cannot run bf16: the error names the field, the GPU and the way out."""
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla T4")
    with pytest.raises(TrainlabError, match=r"train\.precision: bf16 is not supported by Tesla T4; use fp32"):
        check_train_options(BF16, torch.device("cuda"))
    check_train_options(TrainConfig(), torch.device("cuda"))


def test_bf16_on_a_cpu_without_it_runs_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    """Emulated bf16 is correct but slow: no error, one note; none where the CPU has it."""
    import trainlab.train.build as build

    monkeypatch.setattr(build, "cpu_has_native_bf16", lambda: False)
    (note,) = check_train_options(BF16, torch.device("cpu"))
    assert note.startswith("train.precision: bf16 on a CPU without native bf16") and "slower" in note
    assert check_train_options(TrainConfig(), torch.device("cpu")) == []
    monkeypatch.setattr(build, "cpu_has_native_bf16", lambda: True)
    assert check_train_options(BF16, torch.device("cpu")) == []


def test_compile_on_cpu_without_a_compiler_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inductor builds C++ on CPU; without a compiler the run would fail mid-way, so it fails first."""
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(TrainlabError, match=r"train\.compile: torch\.compile on CPU needs a C\+\+ compiler"):
        check_train_options(COMPILE, torch.device("cpu"))
    check_train_options(TrainConfig(), torch.device("cpu"))


def test_run_prints_the_note_once_per_study(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two bf16 runs on a CPU without native bf16: the study still trains, the note is shown once."""
    import trainlab.train.build as build

    monkeypatch.setattr(build, "cpu_has_native_bf16", lambda: False)
    console = Console(record=True, width=200)
    study = write_study(tmp_path, runs=[{}, {"optim.lr": 0.05}])
    outcomes = run_study(study, {"train.precision": "bf16", "train.epochs": 1}, console=console)
    assert [o.status for o in outcomes] == ["done", "done"]
    assert console.export_text().count("note: train.precision: bf16 on a CPU without native bf16") == 1
