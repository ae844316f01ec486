"""Token streams for language modelling: one tensor per split, examples are windows sliced from it.

Windows follow the IFT6135 course: windows of `seq_len + 1` tokens over the flat stream, consecutive
windows overlapping by one token (the last target of one is the first input of the next), inputs
`w[:-1]`, targets `w[1:]`; the last partial window is padded with id 0, which the loss ignores.
Every vocabulary here reserves id 0 for padding (`<pad>`) and, for text we tokenise, id 1 for `<unk>`.
"""

from __future__ import annotations

import gzip
import lzma
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from trainlab.data.base import DataBundle, DataConfig, DataInfo
from trainlab.data.download import locate
from trainlab.data.tokens import UNK
from trainlab.errors import TrainlabError


@dataclass(frozen=True)
class TokenWindows:
    """A split as one token stream; batches of windows are gathered on the stream's device."""

    stream: torch.Tensor  # (n_windows * seq_len + 1,) int64, zero-padded
    seq_len: int
    random_offsets: bool = False  # shuffled batches start anywhere in the stream (nanoGPT's sampling)

    @classmethod
    def from_tokens(cls, tokens: torch.Tensor, seq_len: int) -> TokenWindows:
        n_windows = max(1, math.ceil((len(tokens) - 1) / seq_len))
        stream = torch.zeros(n_windows * seq_len + 1, dtype=torch.int64)
        stream[: len(tokens)] = tokens
        return cls(stream, seq_len)

    def __len__(self) -> int:
        return (len(self.stream) - 1) // self.seq_len

    def num_batches(self, batch_size: int) -> int:
        return math.ceil(len(self) / batch_size)

    def to(self, device: torch.device | str) -> TokenWindows:
        return replace(self, stream=self.stream.to(device))

    def batches(
        self, batch_size: int, generator: torch.Generator | None = None, augment_generator: object = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(inputs, targets), each (B, seq_len); shuffled window order when given a generator, or, with
        `random_offsets`, windows starting at uniformly drawn positions (an epoch is as many batches)."""
        if self.random_offsets and generator is not None:
            yield from self._random_offset_batches(batch_size, generator)
            return
        windows = self.stream.unfold(0, self.seq_len + 1, self.seq_len)  # (N, T + 1), a view
        n = len(self)
        order = torch.randperm(n, generator=generator).to(self.stream.device) if generator is not None else None
        for start in range(0, n, batch_size):
            w = windows[start : start + batch_size] if order is None else windows[order[start : start + batch_size]]
            yield w[:, :-1], w[:, 1:]

    def _random_offset_batches(
        self, batch_size: int, generator: torch.Generator
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        windows = self.stream.unfold(0, self.seq_len + 1, 1)  # (every start, T + 1), a view
        n = len(self)
        for start in range(0, n, batch_size):
            starts = torch.randint(len(windows), (min(batch_size, n - start),), generator=generator)
            w = windows[starts.to(self.stream.device)]
            yield w[:, :-1], w[:, 1:]


class StreamConfig(DataConfig):
    """Options every token-stream dataset has."""

    held_as_tensors: ClassVar[bool] = False  # windows drawn from a token stream

    seq_len: int = Field(256, ge=1)
    max_train_tokens: int | None = Field(None, ge=2)  # keep the first N tokens (quick CPU runs)
    max_eval_tokens: int | None = Field(None, ge=2)
    # training windows start anywhere in the text, drawn afresh for every batch (nanoGPT), instead of the
    # fixed non-overlapping windows shuffled each epoch; validation and test keep the fixed windows
    random_offsets: bool = False


def _bundle(cfg: StreamConfig, splits: dict[str, np.ndarray | None], vocab: int, char_level: bool) -> DataBundle:
    def windows(tokens: np.ndarray | None, cap: int | None) -> TokenWindows | None:
        if tokens is None:
            return None
        return TokenWindows.from_tokens(torch.from_numpy(tokens[:cap].astype(np.int64)), cfg.seq_len)

    info = DataInfo("lm", (cfg.seq_len,), vocab, char_level=char_level)
    train = windows(splits["train"], cfg.max_train_tokens)
    return DataBundle(
        info,
        replace(train, random_offsets=cfg.random_offsets),
        windows(splits["valid"], cfg.max_eval_tokens),
        windows(splits["test"], cfg.max_eval_tokens),
    )


# -- WikiText-2 in GPT-1 BPE ids (the IFT6135 files) ----------------------------------------------

WIKITEXT_FILES = {  # sha256 of the course's files
    "wiki.train.npz": "64513a83b2f7bc952318aea06c63e9fabf349352ccdcc972cf7d40a0522f1131",
    "wiki.validation.npz": "b1ac035ce1b48ef98bb64cc58e48eadcb12c9affaf38ba6a32f287a8c3501ab3",
    "wiki.test.npz": "8222625565bfb25cb36f5135c2a9c9c9934ba305cf02d004edfc8a2e3df58152",
}
GPT1_VOCAB = 40_479  # 40,478 BPE tokens + padding id 0


class WikiText2BPEConfig(StreamConfig):
    not_in_id = frozenset({"root", "download", "url"})

    root: str | None = None  # default: ./data/wikitext2-gpt1bpe
    download: bool = False
    url: str | None = None  # a folder URL serving the course's wiki.*.npz files (checked by sha256)

    def static_info(self) -> DataInfo | None:
        return DataInfo("lm", (self.seq_len,), GPT1_VOCAB)


def read_npz_tokens(path: Path) -> np.ndarray:
    try:
        with np.load(path) as f:
            return np.asarray(f["tokens"])
    except (OSError, KeyError, ValueError) as err:
        raise TrainlabError(f"{path}: not a token file with a `tokens` array ({err})") from None


def load_wikitext2_bpe(cfg: WikiText2BPEConfig) -> DataBundle:
    if cfg.download and not cfg.url:
        raise TrainlabError("data.url: set it to the folder URL that serves the course's wiki.*.npz files")
    folder = locate(
        cfg.root,
        WIKITEXT_FILES,
        cfg.url or "",
        cfg.download,
        "WikiText-2 (GPT-1 BPE)",
        "data/wikitext2-gpt1bpe",
        algorithm="sha256",
    )
    train, valid, test = (read_npz_tokens(folder / name) for name in WIKITEXT_FILES)
    if max(int(train.max()), int(valid.max()), int(test.max())) >= GPT1_VOCAB:
        raise TrainlabError(f"{folder}: token ids beyond the GPT-1 vocabulary ({GPT1_VOCAB}); wrong files?")
    return _bundle(cfg, {"train": train, "valid": valid, "test": test}, GPT1_VOCAB, char_level=False)


# -- any UTF-8 text, tokenised by characters or words ---------------------------------------------


def tokenize(text: str, tokenizer: Literal["char", "word"]) -> list[str]:
    if tokenizer == "char":
        return list(text)
    return [w for line in text.splitlines() for w in (*line.split(), "<eos>")]


def encode(tokens: list[str], vocab: dict[str, int]) -> np.ndarray:
    return np.fromiter((vocab.get(t, UNK) for t in tokens), dtype=np.int64, count=len(tokens))


def text_bundle(cfg: StreamConfig, texts: dict[str, str | None], tokenizer: Literal["char", "word"]) -> DataBundle:
    """Vocabulary from the training split only; unseen tokens elsewhere map to <unk>."""
    train_tokens = tokenize(texts["train"] or "", tokenizer)
    vocab = {t: i for i, t in enumerate(sorted(set(train_tokens)), start=2)}
    splits = {
        name: encode(tokenize(text, tokenizer), vocab) if text is not None else None for name, text in texts.items()
    }
    return _bundle(cfg, splits, len(vocab) + 2, char_level=tokenizer == "char")


def read_text(path: Path, field: str = "data.path") -> str:
    """A UTF-8 file, plain or compressed (.xz, .gz); errors name the config field that pointed at it."""
    opener = {".xz": lzma.open, ".gz": gzip.open}.get(path.suffix)
    try:
        raw = opener(path).read() if opener else path.read_bytes()
        return raw.decode("utf-8")
    except FileNotFoundError:
        raise TrainlabError(f"{field}: {path} does not exist") from None
    except (OSError, EOFError, lzma.LZMAError, UnicodeDecodeError) as err:
        raise TrainlabError(f"{field}: {path} is not readable UTF-8 text ({err})") from None


def split_text(text: str, valid_fraction: float) -> tuple[str, str]:
    """Contiguous split: the first (1 - f) of the text trains, the rest validates (as nanoGPT does)."""
    cut = int(len(text) * (1 - valid_fraction))
    return text[:cut], text[cut:]


class TextConfig(StreamConfig):
    """A UTF-8 file (split by `valid_fraction`) or a folder with train/valid[/test] files (.txt or .xz)."""

    path: str
    tokenizer: Literal["char", "word"] = "char"
    seq_len: int = Field(128, ge=1)
    valid_fraction: float = Field(0.1, gt=0, lt=1)


def _find_split(folder: Path, split: str) -> Path | None:
    for name in (split, f"{split}.txt", f"{split}.txt.xz", f"{split}.xz"):
        if (folder / name).exists():
            return folder / name
    return None


def load_text(cfg: TextConfig) -> DataBundle:
    path = Path(cfg.path).expanduser()
    if path.is_dir():
        files = {s: _find_split(path, s) for s in ("train", "valid", "test")}
        if files["train"] is None or files["valid"] is None:
            raise TrainlabError(f"data.path: {path} needs train and valid files (train.txt, valid.txt[, test.txt])")
        texts = {s: read_text(p) if p else None for s, p in files.items()}
    else:
        train, valid = split_text(read_text(path), cfg.valid_fraction)
        texts = {"train": train, "valid": valid, "test": None}
    return text_bundle(cfg, texts, cfg.tokenizer)


TINYSHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/"
TINYSHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"  # of input.txt


class TinyShakespeareConfig(StreamConfig):
    """Karpathy's Tiny Shakespeare, characters, nanoGPT's contiguous 90/10 split."""

    not_in_id = frozenset({"root", "download"})

    root: str | None = None  # default: ./data/tinyshakespeare; reads input.txt or input.txt.xz
    download: bool = False


def load_tinyshakespeare(cfg: TinyShakespeareConfig) -> DataBundle:
    folder = Path(cfg.root or "data/tinyshakespeare").expanduser()
    path = next((folder / n for n in ("input.txt", "input.txt.xz") if (folder / n).exists()), None)
    if path is None:
        folder = locate(
            cfg.root,
            {"input.txt": TINYSHAKESPEARE_SHA256},
            TINYSHAKESPEARE_URL,
            cfg.download,
            "Tiny Shakespeare",
            "data/tinyshakespeare",
            algorithm="sha256",
        )
        path = folder / "input.txt"
    train, valid = split_text(read_text(path), 0.1)
    return text_bundle(cfg, {"train": train, "valid": valid, "test": None}, "char")
