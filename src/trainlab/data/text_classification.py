"""Text classification for pretrained encoders: `verbal_arithmetic` (the CSC413 task: "four minus ten" ->
negative / zero / positive) and `text_classification` (any CSV or TSV of text and label).

Texts are tokenized with the model's own tokenizer (`tokenizer: model`, the default, takes the run's
`model.pretrained`) or one named here, once per dataset and tokenizer in a process (every run of a
study shares it). An example is a (3, T) integer tensor: token ids, attention mask, and in row 2 the
example's number, unique across splits (a frozen encoder's features are cached by it).
"""

from __future__ import annotations

import csv
import functools
import itertools
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import Field, model_validator

from trainlab import hub
from trainlab.data.base import DataBundle, DataConfig, DataInfo, TensorSplit
from trainlab.errors import TrainlabError

ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
OPERATIONS = {"plus": lambda a, b: a + b, "minus": lambda a, b: a - b, "times": lambda a, b: a * b}
SIGNS = ("negative", "zero", "positive")


def number_words(n: int) -> str:
    """12 -> 'twelve', 47 -> 'forty seven', -3 -> 'negative three' (|n| < 1000)."""
    if n < 0:
        return f"negative {number_words(-n)}"
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else f" {ONES[n % 10]}")
    rest = n % 100
    return f"{ONES[n // 100]} hundred" + ("" if rest == 0 else f" {number_words(rest)}")


class TokenizedText(DataConfig):
    """What the text datasets share: the tokenizer and the longest sequence."""

    tokenizer: str = "model"  # `model`: the run's model.pretrained; or a tokenizer name or folder
    max_len: int = Field(32, ge=2, le=4096)

    def resolved(self, model: Any) -> DataConfig:
        if self.tokenizer != "model":
            return self
        pretrained = getattr(model, "pretrained", None)
        if not pretrained:
            raise TrainlabError(
                f"data.tokenizer: model: model {model.name!r} has no pretrained tokenizer; name one in data.tokenizer"
            )
        return self.model_copy(update={"tokenizer": pretrained})


class VerbalArithmeticConfig(TokenizedText):
    name: str = "verbal_arithmetic"
    low: int = Field(-20, ge=-999, le=999)
    high: int = Field(20, ge=-999, le=999)
    operations: tuple[Literal["plus", "minus", "times"], ...] = ("plus", "minus", "times")
    n: int = Field(4000, ge=3)  # phrases in all, each (a, op, b) at most once (splits never share one)
    valid_fraction: float = Field(0.2, gt=0, lt=1)
    test_fraction: float = Field(0.2, ge=0, lt=1)
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _range(self) -> VerbalArithmeticConfig:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        if not self.operations:
            raise ValueError("operations: name at least one of plus, minus, times")
        return self


class TextClassificationConfig(TokenizedText):
    name: str = "text_classification"
    path: str  # a .csv / .tsv file, or a folder with train.* and optionally valid.* and test.*
    text_column: str = "text"
    label_column: str = "label"
    labels: tuple[str, ...] | None = None  # the classes, in order; default: those found, sorted
    valid_fraction: float = Field(0.1, gt=0, lt=1)  # taken from train when there is no valid file
    seed: int = Field(0, ge=0)


def sign_label(value: int) -> int:
    return 0 if value < 0 else 1 if value == 0 else 2


def verbal_arithmetic(cfg: VerbalArithmeticConfig) -> dict[str, list[tuple[str, int]]]:
    """Disjoint splits of phrases 'a op b' (numbers as words), labelled by the sign of the result."""
    combos = list(itertools.product(range(cfg.low, cfg.high + 1), cfg.operations, range(cfg.low, cfg.high + 1)))
    order = torch.randperm(len(combos), generator=torch.Generator().manual_seed(cfg.seed)).tolist()
    chosen = [combos[i] for i in order[: cfg.n]]
    phrases = [(f"{number_words(a)} {op} {number_words(b)}", sign_label(OPERATIONS[op](a, b))) for a, op, b in chosen]
    n_valid, n_test = round(len(phrases) * cfg.valid_fraction), round(len(phrases) * cfg.test_fraction)
    return {
        "valid": phrases[:n_valid],
        "test": phrases[n_valid : n_valid + n_test],
        "train": phrases[n_valid + n_test :],
    }


def _read_table(path: Path, text: str, label: str) -> list[tuple[str, str]]:
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        missing = [c for c in (text, label) if c not in (reader.fieldnames or [])]
        if missing:
            raise TrainlabError(
                f"data.path {path}: no column {missing[0]!r} (columns: {', '.join(reader.fieldnames or [])}; "
                "set data.text_column / data.label_column)"
            )
        return [(row[text], row[label].strip()) for row in reader]


def text_table(cfg: TextClassificationConfig) -> tuple[dict[str, list[tuple[str, int]]], tuple[str, ...]]:
    """The splits of a CSV/TSV file (train, valid by `valid_fraction`) or folder (train.*, valid.*, test.*)."""
    root = Path(cfg.path)
    if root.is_dir():
        files = {
            s: next((p for p in sorted(root.iterdir()) if p.stem == s and p.suffix in (".csv", ".tsv")), None)
            for s in ("train", "valid", "test")
        }
        if files["train"] is None:
            raise TrainlabError(f"data.path {root}: no train.csv or train.tsv in the folder")
    elif root.is_file():
        files = {"train": root, "valid": None, "test": None}
    else:
        raise TrainlabError(f"data.path {root}: no such file or folder")
    rows = {s: _read_table(p, cfg.text_column, cfg.label_column) for s, p in files.items() if p is not None}
    if "valid" not in rows:
        order = torch.randperm(len(rows["train"]), generator=torch.Generator().manual_seed(cfg.seed)).tolist()
        k = max(1, round(len(order) * cfg.valid_fraction))
        rows["valid"], rows["train"] = [rows["train"][i] for i in order[:k]], [rows["train"][i] for i in order[k:]]
    found = sorted({lab for split in rows.values() for _, lab in split})
    labels = cfg.labels or tuple(found)
    unknown = [lab for lab in found if lab not in labels]
    if unknown:
        raise TrainlabError(
            f"data.labels: the files hold label {unknown[0]!r}, which the head does not cover "
            f"(data.labels: {', '.join(labels)})"
        )
    index = {lab: i for i, lab in enumerate(labels)}
    return {s: [(t, index[lab]) for t, lab in split] for s, split in rows.items()}, tuple(labels)


@functools.cache
def _encode(tokenizer_name: str, texts: tuple[str, ...], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and attention masks, padded to the longest text (at most max_len)."""
    tok = hub.tokenizer(tokenizer_name)
    enc = tok(list(texts), padding="longest", truncation=True, max_length=max_len, return_tensors="pt")
    return enc["input_ids"].long(), enc["attention_mask"].long()


def tokenized_bundle(
    splits: dict[str, list[tuple[str, int]]], classes: tuple[str, ...], cfg: TokenizedText
) -> DataBundle:
    """One tokenization of every split (padded alike), as (3, T) examples: ids, mask, example number."""
    names = [s for s in ("train", "valid", "test") if splits.get(s)]
    texts = tuple(t for s in names for t, _ in splits[s])
    ids, mask = _encode(cfg.tokenizer, texts, cfg.max_len)
    number = torch.arange(len(texts)).unsqueeze(1).expand_as(ids)
    x = torch.stack([ids, mask, number], dim=1)  # (N, 3, T)
    y = torch.tensor([lab for s in names for _, lab in splits[s]])
    parts, start = {}, 0
    for s in names:
        parts[s] = TensorSplit(x[start : start + len(splits[s])], y[start : start + len(splits[s])])
        start += len(splits[s])
    info = DataInfo(
        "classification",
        tuple(x.shape[1:]),
        len(classes),
        class_names=classes,
        vocab=len(hub.tokenizer(cfg.tokenizer)),
        tokenizer=cfg.tokenizer,
    )
    return DataBundle(info, parts["train"], parts["valid"], parts.get("test"))


def load_verbal_arithmetic(cfg: VerbalArithmeticConfig) -> DataBundle:
    return tokenized_bundle(verbal_arithmetic(cfg), SIGNS, cfg)


def load_text_classification(cfg: TextClassificationConfig) -> DataBundle:
    splits, classes = text_table(cfg)
    return tokenized_bundle(splits, classes, cfg)
