"""What every dataset hands the engine: tensors on one device, batches gathered by index."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Protocol

import torch

from trainlab.spec.config import Named


@dataclass(frozen=True)
class DataInfo:
    """What a model builder needs to know about its inputs."""

    task: str  # a name of the tasks registry: classification, lm, seq2seq, or the user's (trainlab.train.tasks)
    input_shape: tuple[int, ...]  # one example, e.g. (T, D) vectors, (C, H, W) images, (T,) token ids,
    #                               (longest source, longest target) for translation
    num_classes: int  # classes, or the vocabulary size for language modelling and translation
    char_level: bool = False  # tokens are characters: report bits per character
    detokenize: Callable[[Sequence[int]], str] | None = None  # token ids -> text (translation: for BLEU)
    class_names: tuple[str, ...] | None = None  # what each class is called (zero-shot prompts, tables)
    vocab: int | None = None  # size of the tokenizer's vocabulary, for inputs of token ids
    tokenizer: str | None = None  # the pretrained tokenizer that made them


class DataConfig(Named):
    """Base of every dataset's config."""

    # Whether the training split is held as tensors and gathered by index (TensorSplit), which packed runs of
    # several seeds share; token streams and padded sentence pairs are drawn a batch at a time, so only runs of
    # one seed pack (trainlab.train.packed). Known from the config, so that `trainlab check` can tell.
    held_as_tensors: ClassVar[bool] = True

    def static_info(self) -> DataInfo | None:
        """The DataInfo when it follows from the config alone (so `check` needs no data); else None."""
        return None

    def resolved(self, model: Any) -> DataConfig:
        """This config with what it takes from the run's model config filled in (a tokenizer); itself by
        default."""
        return self


Batch = tuple[Any, torch.Tensor]  # (inputs: a tensor, or a tuple of them for translation; targets)


class Split(Protocol):
    """What the loop needs of a split (TensorSplit, token windows, sentence pairs)."""

    def __len__(self) -> int: ...

    def num_batches(self, batch_size: int) -> int: ...

    def batches(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        augment_generator: torch.Generator | None = None,
    ) -> Iterator[Batch]: ...


@dataclass(frozen=True)
class TensorSplit:
    """A split held as two tensors; batches are gathered by index (no per-sample Python)."""

    x: torch.Tensor
    y: torch.Tensor
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None  # applied to each batch (e.g. normalise)
    augment: Callable[..., torch.Tensor] | None = None  # (batch, g=generator): training-time augmentation

    def __len__(self) -> int:
        return self.x.shape[0]

    def num_batches(self, batch_size: int) -> int:
        return math.ceil(len(self) / batch_size)

    def to(self, device: torch.device | str) -> TensorSplit:
        return replace(self, x=self.x.to(device), y=self.y.to(device))

    def batches(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        augment_generator: torch.Generator | None = None,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Shuffled batches when given a generator, in order otherwise; augmented (before the
        transform) when the split has an augmentation and an augmentation generator is given."""
        n = len(self)
        order = torch.randperm(n, generator=generator).to(self.x.device) if generator is not None else None
        for start in range(0, n, batch_size):
            if order is None:
                x, y = self.x[start : start + batch_size], self.y[start : start + batch_size]
            else:
                idx = order[start : start + batch_size]
                x, y = self.x.index_select(0, idx), self.y.index_select(0, idx)
            if self.augment is not None and augment_generator is not None:
                x = self.augment(x.float(), g=augment_generator)
            yield (self.transform(x) if self.transform else x), y


@dataclass(frozen=True)
class DataBundle:
    """Train, valid and (optional) test splits of one dataset, and what models need to know."""

    info: DataInfo
    train: TensorSplit
    valid: TensorSplit
    test: TensorSplit | None = None
    notes: tuple[str, ...] = ()  # what loading changed that the user should know (sentences cut, ...)

    def to(self, device: torch.device | str) -> DataBundle:
        return replace(
            self,
            train=self.train.to(device),
            valid=self.valid.to(device),
            test=self.test.to(device) if self.test is not None else None,
        )


def split_by_permutation(
    x: torch.Tensor, y: torch.Tensor, valid_fraction: float, seed: int
) -> tuple[TensorSplit, TensorSplit]:
    """Disjoint train/valid splits from one seeded permutation (no example lands in both)."""
    n = x.shape[0]
    n_valid = max(1, round(n * valid_fraction))
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    valid, train = order[:n_valid], order[n_valid:]
    return TensorSplit(x[train], y[train]), TensorSplit(x[valid], y[valid])
