"""Every registered dataset, on tiny inputs the tests make: batches match DataInfo, labels in range."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from trainlab.data import DATASETS
from tests.data.test_images import fake_mnist


def _idx(tmp_path: Path) -> dict[str, Any]:
    fake_mnist(tmp_path)
    return {"root": str(tmp_path), "valid_size": 10}


TINY: dict[str, Callable[[Path], dict[str, Any]]] = {
    "teacher_attention": lambda _: {"n": 200, "test_n": 50},
    "mnist": _idx,
    "fashion_mnist": _idx,
}


@pytest.mark.parametrize("entry", list(DATASETS), ids=lambda e: e.name)
def test_every_dataset_honours_its_datainfo(entry, tmp_path: Path) -> None:  # noqa: ANN001
    """Each split batches to (B, *input_shape) floats with integer labels below num_classes."""
    assert entry.name in TINY, f"add a tiny config for dataset {entry.name} to this contract test"
    data = entry.build(entry.config(name=entry.name, **TINY[entry.name](tmp_path)))
    for split in (data.train, data.valid, data.test):
        assert split is not None and len(split) > 0
        x, y = next(split.batches(8, generator=torch.Generator().manual_seed(0)))
        assert x.shape == (8, *data.info.input_shape) and x.is_floating_point()
        assert y.dtype == torch.int64 and 0 <= int(y.min()) and int(y.max()) < data.info.num_classes
