"""Every registered dataset, on tiny inputs the tests make: batches match DataInfo, labels in range."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from trainlab.data import DATASETS
from tests.data.test_cifar import write_batches
from tests.data.test_images import fake_mnist
from tests.data.test_text import write_wikitext


def _idx(tmp_path: Path) -> dict[str, Any]:
    fake_mnist(tmp_path)
    return {"root": str(tmp_path), "valid_size": 10}


def _wikitext(tmp_path: Path) -> dict[str, Any]:
    write_wikitext(tmp_path, {"train": 500, "validation": 200, "test": 200})
    return {"root": str(tmp_path), "seq_len": 16}


def _text(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "corpus.txt").write_text("to be or not to be\n" * 50)
    return {"path": str(tmp_path / "corpus.txt"), "seq_len": 8}


def _shakespeare(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "input.txt").write_text("First Citizen:\nBefore we proceed any further, hear me speak.\n" * 20)
    return {"root": str(tmp_path), "seq_len": 8}


def _cifar(tmp_path: Path) -> dict[str, Any]:
    write_batches(tmp_path / "cifar-10-batches-py")
    return {"root": str(tmp_path), "valid_size": 10, "augment": ["hflip", "crop"]}


TINY: dict[str, Callable[[Path], dict[str, Any]]] = {
    "cifar10": _cifar,
    "teacher_attention": lambda _: {"n": 200, "test_n": 50},
    "mnist": _idx,
    "fashion_mnist": _idx,
    "wikitext2_bpe": _wikitext,
    "text": _text,
    "tinyshakespeare": _shakespeare,
}


@pytest.mark.parametrize("entry", list(DATASETS), ids=lambda e: e.name)
def test_every_dataset_honours_its_datainfo(entry, tmp_path: Path) -> None:  # noqa: ANN001
    """Each split batches to (B, *input_shape) with int64 targets below num_classes (classes or vocabulary)."""
    assert entry.name in TINY, f"add a tiny config for dataset {entry.name} to this contract test"
    data = entry.build(entry.config(name=entry.name, **TINY[entry.name](tmp_path)))
    for split in (data.train, data.valid, data.test):
        if split is None:
            assert data.info.task == "lm"  # corpora without a test split (Tiny Shakespeare, one text file)
            continue
        assert len(split) > 0
        x, y = next(split.batches(2, torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)))
        assert x.shape == (2, *data.info.input_shape)
        assert x.is_floating_point() if data.info.task == "classification" else x.dtype == torch.int64
        assert y.dtype == torch.int64 and 0 <= int(y.min()) and int(y.max()) < data.info.num_classes
