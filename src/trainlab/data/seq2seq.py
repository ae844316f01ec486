"""Translation data: aligned sentence pairs as padded token tensors, batched by length.

Three sources: `pig_latin` (generated from a word list, characters), `multi30k` (Multi30k task 1,
Elliott et al. 2016; byte-level BPE) and `parallel_text` (any aligned files, byte-level BPE). Sources
are token ids without specials; targets are <s> tokens </s>. A batch is ((source, target input),
target output): the target input drops the last token, the output drops <s>, so a model's logits line
up with the output as a language model's do.

Batches group sentences of similar length (bucketing): the training order is shuffled, cut into pools
of `POOL_BATCHES` batches, each pool sorted by length and cut into batches, whose order is shuffled
again; each batch is trimmed to its longest source and target. Evaluation goes in length order.
Sorting by length is two-dimensional: by source length, then by target length within runs of
`WINDOW_BATCHES` batches, so both sides of a batch are alike (sorting by the sum of the two lengths
left 16-19 % of Multi30k's token slots as padding; this leaves 7-9 % in training, 0.2 % in evaluation).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from trainlab.data.base import DataBundle, DataConfig, DataInfo
from trainlab.data.download import fetch
from trainlab.data.pig_latin import phrases, to_pig_latin
from trainlab.data.text import read_text
from trainlab.data.tokens import EOS, PAD, SOS, BPEVocab, CharVocab, Vocab
from trainlab.errors import TrainlabError

POOL_BATCHES = 100  # batches sorted together: padding under 10 % on Multi30k, order still random
WINDOW_BATCHES = 4


@dataclass(frozen=True)
class PairSplit:
    """Sentence pairs as right-padded tensors; lengths stay on the CPU, so batching never syncs a GPU."""

    src: torch.Tensor  # (N, S) int64
    tgt: torch.Tensor  # (N, T) int64: <s> ... </s>
    src_len: torch.Tensor  # (N,) on the CPU
    tgt_len: torch.Tensor  # (N,) on the CPU

    @classmethod
    def from_ids(cls, sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]]) -> PairSplit:
        targets = [[SOS, *t, EOS] for t in targets]
        return cls(
            _pad(sources),
            _pad(targets),
            torch.tensor([len(s) for s in sources]),
            torch.tensor([len(t) for t in targets]),
        )

    def __len__(self) -> int:
        return len(self.src_len)

    def num_batches(self, batch_size: int, shuffled: bool = True) -> int:
        if not shuffled:
            return math.ceil(len(self) / batch_size)
        pool = POOL_BATCHES * batch_size
        full, rest = divmod(len(self), pool)
        return full * POOL_BATCHES + math.ceil(rest / batch_size)

    def to(self, device: torch.device | str) -> PairSplit:
        return replace(self, src=self.src.to(device), tgt=self.tgt.to(device))

    def batch_indices(self, batch_size: int, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        if generator is None:
            return list(self._by_length(torch.arange(len(self)), batch_size).split(batch_size))
        order = torch.randperm(len(self), generator=generator)
        batches = []
        for pool in order.split(POOL_BATCHES * batch_size):
            batches += self._by_length(pool, batch_size).split(batch_size)
        return [batches[i] for i in torch.randperm(len(batches), generator=generator)]

    def _by_length(self, idx: torch.Tensor, batch_size: int) -> torch.Tensor:
        """`idx` sorted by source length, then by target length within windows of a few batches."""
        width = int(self.tgt_len.max()) + 1
        idx = idx[torch.argsort(self.src_len[idx] * width + self.tgt_len[idx], stable=True)]
        windows = idx.split(WINDOW_BATCHES * batch_size)
        return torch.cat([w[torch.argsort(self.tgt_len[w], stable=True)] for w in windows])

    def batches(
        self, batch_size: int, generator: torch.Generator | None = None, augment_generator: object = None
    ) -> Iterator[tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]]:
        for idx in self.batch_indices(batch_size, generator):
            S, T = int(self.src_len[idx].max()), int(self.tgt_len[idx].max())
            rows = idx.to(self.src.device, non_blocking=True)
            src, tgt = self.src.index_select(0, rows)[:, :S], self.tgt.index_select(0, rows)[:, :T]
            yield (src, tgt[:, :-1]), tgt[:, 1:]  # (B, S); (B, T-1) inputs; (B, T-1) outputs

    def padding_fraction(self, batch_size: int, generator: torch.Generator | None = None) -> float:
        """Share of the token slots of one epoch's batches (source and target) that are padding."""
        slots = real = 0
        for idx in self.batch_indices(batch_size, generator):
            slots += len(idx) * int(self.src_len[idx].max() + self.tgt_len[idx].max())
            real += int(self.src_len[idx].sum() + self.tgt_len[idx].sum())
        return 1 - real / slots


def _pad(rows: Sequence[Sequence[int]]) -> torch.Tensor:
    """(N, longest) right-padded with PAD in one vectorised assignment (a tensor per row took 0.43 s for
    29,000 sentences, this 0.03 s): a row-major boolean mask of the real positions takes the ids in order."""
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    out = np.full((len(rows), lengths.max(initial=0)), PAD, dtype=np.int64)
    out[np.arange(out.shape[1]) < lengths[:, None]] = np.fromiter(
        itertools.chain.from_iterable(rows), dtype=np.int64, count=int(lengths.sum())
    )
    return torch.from_numpy(out)


class Seq2SeqConfig(DataConfig):
    """Options every translation dataset has."""

    held_as_tensors: ClassVar[bool] = False  # pairs padded per batch to its longest sentence

    max_len: int = Field(128, ge=1)  # tokens per sentence (specials not counted)
    too_long: Literal["truncate", "refuse"] = "truncate"
    max_train: int | None = Field(None, ge=1)  # keep the first N training pairs (quick CPU runs)


Texts = dict[str, tuple[list[str], list[str]]]  # split -> (sources, targets)


def _fit(ids: list[list[int]], cfg: Seq2SeqConfig, where: str, notes: list[str]) -> list[list[int]]:
    """Sentences longer than `max_len` tokens: cut (with a note) or refused, as `too_long` says."""
    long = [len(s) for s in ids if len(s) > cfg.max_len]
    if not long:
        return ids
    if cfg.too_long == "refuse":
        raise TrainlabError(
            f"data.max_len: {len(long)} {where} sentences are longer than {cfg.max_len} tokens "
            f"(longest {max(long)}); raise data.max_len or set data.too_long: truncate"
        )
    notes.append(f"data: {len(long)} of {len(ids)} {where} sentences cut to {cfg.max_len} tokens (longest {max(long)})")
    return [s[: cfg.max_len] for s in ids]


def pairs_bundle(cfg: Seq2SeqConfig, texts: Texts, vocab: Vocab, notes: Sequence[str] = ()) -> DataBundle:
    """Encode every split with a vocabulary built from the training split only."""
    notes = list(notes)
    splits = {}
    for name, (sources, targets) in texts.items():
        src = _fit(vocab.encode(sources), cfg, f"{name} source", notes)
        tgt = _fit(vocab.encode(targets), cfg, f"{name} target", notes)
        splits[name] = PairSplit.from_ids(src, tgt)
    lengths = (max(int(s.src_len.max()) for s in splits.values()), max(int(s.tgt_len.max()) for s in splits.values()))
    info = DataInfo("seq2seq", lengths, len(vocab), char_level=isinstance(vocab, CharVocab), detokenize=vocab.decode)
    return DataBundle(info, splits["train"], splits["valid"], splits.get("test"), notes=tuple(notes))


def _cap(texts: Texts, cap: int | None) -> Texts:
    if cap is None:
        return texts
    sources, targets = texts["train"]
    return {**texts, "train": (sources[:cap], targets[:cap])}


# -- Pig Latin ----------------------------------------------------------------------------------------

PIG_LATIN_SIZES = {"small": 4_000, "large": 40_000}  # pairs before the valid/test split


class PigLatinConfig(Seq2SeqConfig):
    """English phrases -> Pig Latin (rules in trainlab.data.pig_latin), characters."""

    not_in_id = frozenset({"root"})

    name: str = "pig_latin"
    words: str | None = None  # a text file whose distinct words are drawn; default: Multi30k's English train side
    root: str | None = None  # the Multi30k folder, for the default word list; default ./data/multi30k
    size: Literal["small", "large"] | Annotated[int, Field(ge=10)] = "small"
    max_words: int = Field(3, ge=1)  # phrases of 1..max_words words
    valid_fraction: float = Field(0.1, gt=0, lt=0.5)
    test_fraction: float = Field(0.1, ge=0, lt=0.5)
    seed: int = Field(0, ge=0)


def word_list(text: str) -> list[str]:
    """Distinct words of a text (letters, optionally followed by punctuation), in order of appearance."""
    words = (w for w in text.split() if w.rstrip(".,!?;:'\"").isalpha())
    return list(dict.fromkeys(words))


def load_pig_latin(cfg: PigLatinConfig) -> DataBundle:
    if cfg.words:
        lines = _read_lines(Path(cfg.words).expanduser(), "data.words")
    else:
        lines = multi30k_lines(cfg.root, "train.en")
    words = word_list("\n".join(lines))
    if len(words) < 10:
        raise TrainlabError(
            f"data.words: {cfg.words or 'the Multi30k word list'} has {len(words)} distinct words; "
            "a word list needs at least 10"
        )
    count = PIG_LATIN_SIZES[cfg.size] if isinstance(cfg.size, str) else cfg.size
    english = phrases(words, count, cfg.max_words, cfg.seed)
    n_valid, n_test = round(len(english) * cfg.valid_fraction), round(len(english) * cfg.test_fraction)
    parts = {
        "valid": english[:n_valid],
        "test": english[n_valid : n_valid + n_test],
        "train": english[n_valid + n_test :],
    }
    texts = {name: (list(part), [to_pig_latin(p) for p in part]) for name, part in parts.items() if part}
    texts = _cap(texts, cfg.max_train)
    return pairs_bundle(cfg, texts, CharVocab(s for pair in zip(*texts["train"]) for s in pair))


# -- aligned text files --------------------------------------------------------------------------------


class BPEOptions(Seq2SeqConfig):
    vocab_size: int = Field(8000, ge=300)  # one byte-level BPE vocabulary for both languages
    min_frequency: int = Field(2, ge=1)


def _read_lines(path: Path, field: str) -> list[str]:
    """Lines of a UTF-8 file (plain, .gz or .xz), without the blank lines that end it."""
    lines = read_text(path, field).split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def read_pairs(source: Path, target: Path, skip_empty: bool, field: str) -> tuple[list[str], list[str]]:
    return align(_read_lines(source, field), _read_lines(target, field), (source, target), skip_empty, field)


def align(
    src: list[str], tgt: list[str], files: tuple[Path, Path], skip_empty: bool, field: str
) -> tuple[list[str], list[str]]:
    """Aligned lines of two files: same count, no empty line (or such pairs dropped, when asked)."""
    source, target = files
    if len(src) != len(tgt):
        raise TrainlabError(
            f"{field}: {source} has {len(src):,} lines but {target} has {len(tgt):,}; "
            "aligned files need one sentence per line on both sides"
        )
    empty = [i + 1 for i, (s, t) in enumerate(zip(src, tgt)) if not s.strip() or not t.strip()]
    if empty and not skip_empty:
        raise TrainlabError(
            f"{field}: {len(empty)} empty lines in {source} / {target} (first at line {empty[0]}); "
            "fix the files or set data.skip_empty: true to drop those pairs"
        )
    keep = set(range(len(src))) - {i - 1 for i in empty}
    return [s for i, s in enumerate(src) if i in keep], [t for i, t in enumerate(tgt) if i in keep]


# A byte-level BPE token rarely spans more characters than this; a line longer than max_len tokens of it
# cannot fit, and lines of 200,000 characters kept the tokenizer's training busy for minutes.
CHARS_PER_TOKEN = 16


def _cut_long_lines(texts: Texts, cfg: Seq2SeqConfig) -> tuple[Texts, list[str]]:
    """Lines of more than CHARS_PER_TOKEN·max_len characters: cut to that (with a note) or refused, as
    `too_long` says, before any tokenizer sees them."""
    limit, notes, out = CHARS_PER_TOKEN * cfg.max_len, [], {}
    for split, sides in texts.items():
        cut = []
        for side, lines in zip(("source", "target"), sides):
            long = [len(s) for s in lines if len(s) > limit]
            if long and cfg.too_long == "refuse":
                raise TrainlabError(
                    f"data.max_len: {len(long)} {split} {side} lines are longer than {limit:,} characters (longest "
                    f"{max(long):,}), more than {cfg.max_len} tokens can hold; shorten them or set "
                    "data.too_long: truncate"
                )
            if long:
                notes.append(
                    f"data: {len(long)} {split} {side} lines cut to {limit:,} characters (longest {max(long):,})"
                )
            cut.append([s[:limit] for s in lines] if long else lines)
        out[split] = (cut[0], cut[1])
    return out, notes


def bpe_bundle(cfg: BPEOptions, texts: Texts) -> DataBundle:
    texts, notes = _cut_long_lines(_cap(texts, cfg.max_train), cfg)
    sources, targets = texts["train"]
    vocab = BPEVocab.trained([*sources, *targets], cfg.vocab_size, cfg.min_frequency)
    return pairs_bundle(cfg, texts, vocab, notes)


class ParallelTextConfig(BPEOptions):
    """A folder with train.SRC/train.TGT, valid.SRC/valid.TGT and optionally test.SRC/test.TGT
    (plain, .gz or .xz), one sentence per line."""

    name: str = "parallel_text"
    path: str
    source: str = Field(min_length=1)  # file suffix of the source language, e.g. de
    target: str = Field(min_length=1)
    skip_empty: bool = False


def _find(folder: Path, stem: str) -> Path | None:
    return next((folder / f"{stem}{ext}" for ext in ("", ".xz", ".gz") if (folder / f"{stem}{ext}").exists()), None)


def load_parallel_text(cfg: ParallelTextConfig) -> DataBundle:
    folder = Path(cfg.path).expanduser()
    texts = {}
    for split in ("train", "valid", "test"):
        src, tgt = _find(folder, f"{split}.{cfg.source}"), _find(folder, f"{split}.{cfg.target}")
        if src is None or tgt is None:
            if split == "test":
                continue
            raise TrainlabError(
                f"data.path: {folder} needs {split}.{cfg.source} and {split}.{cfg.target} "
                "(the vocabulary is built from the training split)"
            )
        texts[split] = read_pairs(src, tgt, cfg.skip_empty, "data.path")
        if not texts[split][0]:
            raise TrainlabError(f"data.path: {src.name} and {tgt.name} hold no sentence pair (empty lines dropped)")
    return bpe_bundle(cfg, texts)


# -- Multi30k ------------------------------------------------------------------------------------------

MULTI30K_URL = "https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/"
MULTI30K_SPLITS = {"train": "train", "valid": "val", "test": "test2016"}  # our split -> file stem
MULTI30K_REMOTE = {"train": "train", "val": "val", "test2016": "test_2016_flickr"}
MULTI30K_SHA256 = {  # of the text, without trailing blank lines (the archives differ only there)
    "train.de": "aa3df4534e5730107286d6205ba3bddfca73660af9d2005bdbf80c632026cc5a",
    "train.en": "1b9c6fae1605bc3a5f148410b0db7b092829296a4174aeff2a4080c9e1fda56d",
    "val.de": "1ef69b4ae785e0a404c0f1def690b3273f30b941097aa1c8d92c1db3eea3f25c",
    "val.en": "eecab95d3e8e3b4e82c0e049625a6aa8ffb65314acf78c357a049d349d1cfb8d",
    "test2016.de": "bb3e48712d8d4f8d6e16352ea830d2b3c64ff50439cb6e02486e02f8475d138e",
    "test2016.en": "a1efdee92d83876dbd9bc65f019b58eda88f1fc910e954aea943914d23fe89ca",
}
MULTI30K_PAIRS = ("de-en", "en-de")


class Multi30kConfig(BPEOptions):
    """Multi30k task 1 (29,000 / 1,014 / 1,000 pairs; test = test2016 Flickr), German <-> English."""

    not_in_id = frozenset({"root", "download"})

    name: str = "multi30k"
    source: str = "de"
    target: str = "en"
    root: str | None = None  # default ./data/multi30k; files NAME, NAME.xz or NAME.gz
    download: bool = False

    @model_validator(mode="after")
    def _known_pair(self) -> Multi30kConfig:
        if f"{self.source}-{self.target}" not in MULTI30K_PAIRS:
            raise ValueError(
                f"source/target: {self.source}->{self.target} is not a Multi30k task 1 pair; "
                f"valid: {', '.join(p.replace('-', '->') for p in MULTI30K_PAIRS)}"
            )
        return self


def _multi30k_path(root: str | None, stem: str, download: bool) -> Path:
    folder = Path(root or "data/multi30k").expanduser()
    found = _find(folder, stem)
    if found is None and download:
        split, lang = stem.split(".")
        # the gzip bytes are not fixed (timestamps), so the text is checked instead (multi30k_lines)
        found = fetch(MULTI30K_URL + f"{MULTI30K_REMOTE[split]}.{lang}.gz", folder / f"{stem}.gz", digest=None)
    if found is None:
        raise TrainlabError(
            f"data.root: Multi30k file {stem} not found in {folder.resolve()}; set data.root to the "
            f"folder holding it, or data.download: true to fetch it from {MULTI30K_URL}"
        )
    return found


def multi30k_lines(root: str | None, stem: str, download: bool = False) -> list[str]:
    """The lines of a Multi30k file under `root` (downloaded from the official repository if asked),
    checked against the official text."""
    import hashlib

    path = _multi30k_path(root, stem, download)
    lines = _read_lines(path, "data.root")
    if hashlib.sha256("\n".join(lines).encode()).hexdigest() != MULTI30K_SHA256[stem]:
        raise TrainlabError(f"data.root: {path} is not the official Multi30k {stem} (its sha256 differs)")
    return lines


def load_multi30k(cfg: Multi30kConfig) -> DataBundle:
    texts = {}
    for split, stem in MULTI30K_SPLITS.items():
        src, tgt = (f"{stem}.{lang}" for lang in (cfg.source, cfg.target))
        texts[split] = align(
            multi30k_lines(cfg.root, src, cfg.download),
            multi30k_lines(cfg.root, tgt, cfg.download),
            (Path(src), Path(tgt)),
            skip_empty=False,
            field="data.root",
        )
    return bpe_bundle(cfg, texts)
