"""Token streams: course windows, char/word vocabularies, Tiny Shakespeare and WikiText-2 files."""

from __future__ import annotations

import lzma
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import SHARED
from trainlab.data.text import (
    TextConfig,
    TinyShakespeareConfig,
    TokenWindows,
    WikiText2BPEConfig,
    load_text,
    load_tinyshakespeare,
    load_wikitext2_bpe,
)
from trainlab.errors import TrainlabError


def test_windows_overlap_by_one_token_and_pad_the_last() -> None:
    """Tokens 1..10, seq_len 4: windows [1..5], [5..9], [9, 10, 0, 0, 0]; inputs w[:-1], targets w[1:]."""
    split = TokenWindows.from_tokens(torch.arange(1, 11), seq_len=4)
    assert len(split) == 3
    batches = list(split.batches(2))
    x = torch.cat([b[0] for b in batches])
    y = torch.cat([b[1] for b in batches])
    assert x.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 0, 0]]
    assert y.tolist() == [[2, 3, 4, 5], [6, 7, 8, 9], [10, 0, 0, 0]]


def test_shuffled_windows_cover_each_window_once() -> None:
    """A seeded shuffle visits every window once."""
    split = TokenWindows.from_tokens(torch.arange(1, 42), seq_len=5)
    xs = torch.cat([x for x, _ in split.batches(3, generator=torch.Generator().manual_seed(1))])
    assert sorted(xs[:, 0].tolist()) == [1 + 5 * i for i in range(8)]


def test_char_vocabulary_comes_from_train_only(tmp_path: Path) -> None:
    """Characters unseen in train become <unk> (id 1); id 0 is padding; bits per character are reported."""
    (tmp_path / "train.txt").write_text("abcab")
    (tmp_path / "valid.txt").write_text("abz")
    data = load_text(TextConfig(name="text", path=str(tmp_path), seq_len=2))
    assert data.info.num_classes == 2 + 3 and data.info.char_level and data.test is None
    x, y = next(data.valid.batches(10))
    assert x.tolist() == [[2, 3]] and y.tolist() == [[3, 1]]  # a=2, b=3, z unknown -> 1


def test_word_tokens_end_lines_with_eos(tmp_path: Path) -> None:
    """Word tokenisation splits on whitespace and marks each line end with <eos>."""
    path = tmp_path / "corpus.txt"
    path.write_text("the cat\nthe dog\n" * 20)
    data = load_text(TextConfig(name="text", path=str(path), tokenizer="word", seq_len=3, valid_fraction=0.25))
    assert data.info.num_classes == 2 + 4 and not data.info.char_level  # cat dog the <eos>
    assert len(data.train) > len(data.valid) > 0


def test_tinyshakespeare_splits_90_10_from_xz(tmp_path: Path) -> None:
    """input.txt.xz is read; the first 90 % of characters train, the last 10 % validate."""
    text = "".join(chr(97 + i % 26) for i in range(1000))
    (tmp_path / "input.txt.xz").write_bytes(lzma.compress(text.encode()))
    data = load_tinyshakespeare(TinyShakespeareConfig(name="tinyshakespeare", root=str(tmp_path), seq_len=9))
    assert len(data.train) == 100 and len(data.valid) == 11  # 900 chars -> ceil(899/9); 100 -> ceil(99/9)


def test_missing_tinyshakespeare_says_how_to_get_it(tmp_path: Path) -> None:
    """No input.txt: the error names the folder and the download option."""
    with pytest.raises(TrainlabError, match="input.txt.*data.download: true"):
        load_tinyshakespeare(TinyShakespeareConfig(name="tinyshakespeare", root=str(tmp_path)))


def write_wikitext(folder: Path, sizes: dict[str, int]) -> None:
    """The course format: `tokens` uint16 (flat), `sizes` int64 (tokens per line)."""
    rng = np.random.default_rng(0)
    for split, n in sizes.items():
        tokens = rng.integers(1, 40_478, n).astype(np.uint16)
        np.savez(folder / f"wiki.{split}.npz", tokens=tokens, sizes=np.array([n], dtype=np.int64))


def test_wikitext_files_in_the_course_format_are_checksummed(tmp_path: Path) -> None:
    """Files that are not the course's (wrong sha256) are refused unless fetched; the error says so."""
    write_wikitext(tmp_path, {"train": 1000, "validation": 300, "test": 300})
    with pytest.raises(TrainlabError, match="data.url: set it"):
        load_wikitext2_bpe(WikiText2BPEConfig(name="wikitext2_bpe", root=str(tmp_path / "none"), download=True))
    with pytest.raises(TrainlabError, match="files not found"):
        load_wikitext2_bpe(WikiText2BPEConfig(name="wikitext2_bpe", root=str(tmp_path / "none")))


def test_wikitext_loads_the_course_format(tmp_path: Path) -> None:
    """Generated files in the course format load into windows of seq_len with vocabulary 40,479."""
    write_wikitext(tmp_path, {"train": 1001, "validation": 301, "test": 201})
    data = load_wikitext2_bpe(WikiText2BPEConfig(name="wikitext2_bpe", root=str(tmp_path), seq_len=100))
    assert (len(data.train), len(data.valid), len(data.test)) == (10, 3, 2)
    assert data.info.num_classes == 40_479 and data.info.task == "lm"


def test_real_wikitext2_and_token_caps() -> None:
    """The course's files: 2,356,376 training tokens in 9,205 windows of 256; caps shorten the streams."""
    root = SHARED / "wikitext2-gpt1bpe"
    if not root.exists():
        pytest.skip(f"real data not found at {root}")
    data = load_wikitext2_bpe(WikiText2BPEConfig(name="wikitext2_bpe", root=str(root)))
    assert len(data.train) == -(-(2_356_376 - 1) // 256) and len(data.valid) == -(-(245_046 - 1) // 256)
    capped = load_wikitext2_bpe(
        WikiText2BPEConfig(name="wikitext2_bpe", root=str(root), max_train_tokens=2561, max_eval_tokens=257)
    )
    assert (len(capped.train), len(capped.valid), len(capped.test)) == (10, 1, 1)
