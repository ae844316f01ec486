"""A dataset from the user's code (an import path, an entry point of group `trainlab.datasets`, or
`trainlab.register_dataset`): a loader `load(config)` taking its own pydantic config class, or any callable
whose keyword options become its config. It returns a DataBundle, or simply `(train, valid)` or
`(train, valid, test)`, each an `(x, y)` pair of tensors with integer class labels (a classification task,
its classes counted from the labels)."""

from __future__ import annotations

from typing import Any

import torch

from trainlab.data.base import DataBundle, DataConfig, DataInfo, TensorSplit
from trainlab.errors import TrainlabError
from trainlab.registry import Entry
from trainlab.spec.plugin import config_class, options


def data_plugin(name: str, target: Any, own: Any = None) -> Entry[Any]:
    if not callable(target):
        raise TrainlabError(f"data {name!r}: {type(target).__name__} is not a class or a function")
    config, takes_config = config_class(target, DataConfig, "data", name, own=own)

    def load(cfg: Any) -> DataBundle:
        try:
            result = target(cfg) if takes_config else target(**options(cfg))
        except TrainlabError:
            raise
        except Exception as err:  # the user's loader, on these options
            raise TrainlabError(f"data {name!r}: loading it raised {type(err).__name__}: {err}") from None
        return result if isinstance(result, DataBundle) else bundle(result, name)

    return Entry(name, load, config, source=config.plugin_source)


def bundle(splits: Any, name: str) -> DataBundle:
    """(train, valid[, test]) pairs of (x, y) tensors as a classification DataBundle."""
    pairs = list(splits) if isinstance(splits, (tuple, list)) else []
    ok = len(pairs) in (2, 3) and all(
        isinstance(p, (tuple, list)) and len(p) == 2 and all(isinstance(t, torch.Tensor) for t in p) for p in pairs
    )
    if not ok:
        raise TrainlabError(
            f"data {name!r}: returned {type(splits).__name__}; return a DataBundle, or (train, "
            "valid) or (train, valid, test), each an (x, y) pair of tensors"
        )
    labels = [y for _, y in pairs]
    if any(y.is_floating_point() or y.dim() != 1 for y in labels) or any(len(x) != len(y) for x, y in pairs):
        raise TrainlabError(
            f"data {name!r}: labels must be one integer tensor per split, one label per example "
            "(for another task, return a DataBundle whose DataInfo names it)"
        )
    classes = int(max(int(y.max()) for y in labels if len(y))) + 1
    info = DataInfo("classification", tuple(pairs[0][0].shape[1:]), classes)
    split = [TensorSplit(x, y) for x, y in pairs]
    return DataBundle(info, split[0], split[1], split[2] if len(split) == 3 else None)
