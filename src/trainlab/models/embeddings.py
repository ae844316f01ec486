"""Token (and position) embeddings shared by the language models: padding id 0, optional pretrained
weights from an `.npz` (`tokens`: (V, E), optional `position`: (T, E)), optional freezing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from trainlab.errors import TrainlabError


def load_pretrained(path: str, key: str, shape: tuple[int, int]) -> torch.Tensor | None:
    """The array `key` of the .npz at `path`, checked against `shape`; None if the file lacks it."""
    try:
        with np.load(Path(path).expanduser()) as f:
            if key not in f:
                return None
            array = np.asarray(f[key], dtype=np.float32)
    except (OSError, ValueError) as err:
        raise TrainlabError(f"model.pretrained_embeddings: cannot read {path} ({err})") from None
    if array.shape != shape:
        raise TrainlabError(f"model.pretrained_embeddings: {key} has shape {array.shape}, the model needs {shape}")
    return torch.from_numpy(array)


def make_embedding(
    num: int, dim: int, *, pretrained: str | None, key: str, freeze: bool, padding_idx: int | None = None
) -> nn.Embedding:
    emb = nn.Embedding(num, dim, padding_idx=padding_idx)
    if pretrained is not None:
        weights = load_pretrained(pretrained, key, (num, dim))
        if weights is not None:
            with torch.no_grad():
                emb.weight.copy_(weights)
    emb.weight.requires_grad_(not freeze)
    return emb
