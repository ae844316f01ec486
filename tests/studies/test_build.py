"""Device and precision checks made before any training starts."""

from __future__ import annotations

import pytest
import torch

from trainlab.errors import TrainlabError
from trainlab.studies.build import check_precision


def test_bf16_on_a_gpu_without_it_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pre-Ampere GPU cannot run bf16: the error names the field, the GPU and the way out."""
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla T4")
    with pytest.raises(TrainlabError, match=r"train\.precision: bf16 is not supported by Tesla T4; use fp32"):
        check_precision("bf16", torch.device("cuda"))
    check_precision("fp32", torch.device("cuda"))
    check_precision("bf16", torch.device("cpu"))  # emulated where not native: slower, still correct
