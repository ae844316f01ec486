"""Device, precision and compile checks made before any training starts."""

from __future__ import annotations

import shutil

import pytest
import torch

from trainlab.errors import TrainlabError
from trainlab.spec import TrainConfig
from trainlab.studies.build import check_train_options

BF16, COMPILE = TrainConfig(precision="bf16"), TrainConfig(compile=True)


def test_bf16_on_a_gpu_without_it_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pre-Ampere GPU cannot run bf16: the error names the field, the GPU and the way out."""
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla T4")
    with pytest.raises(TrainlabError, match=r"train\.precision: bf16 is not supported by Tesla T4; use fp32"):
        check_train_options(BF16, torch.device("cuda"))
    check_train_options(TrainConfig(), torch.device("cuda"))
    check_train_options(BF16, torch.device("cpu"))  # emulated where not native: slower, still correct


def test_compile_on_cpu_without_a_compiler_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inductor builds C++ on CPU; without a compiler the run would fail mid-way, so it fails first."""
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(TrainlabError, match=r"train\.compile: torch\.compile on CPU needs a C\+\+ compiler"):
        check_train_options(COMPILE, torch.device("cpu"))
    check_train_options(TrainConfig(), torch.device("cpu"))
