"""`hf_encoder`: a pretrained text encoder (Hugging Face transformers) with a classification head, for
"is a linear probe enough, or must I fine-tune?" studies.

Input (B, 3, T): token ids, attention mask, example number (trainlab.data.text_classification). The
encoder's last hidden states are pooled (the [CLS] token, or the mean over real tokens), then
dropout -> Linear(hidden, classes). `freeze` keeps parts at their pretrained values: `encoder` (a linear
probe), `embeddings`, or `layers:K` (embeddings and the first K layers); frozen parts get no gradients
and stay in eval mode (no dropout), so with the whole encoder frozen `cache_features` computes each
example's pooled features once and reuses them. `layer_decay` scales learning rates layer by layer
(layer-wise learning-rate decay, Clark et al. 2020, ELECTRA §3.2): the head at the full rate, layer l of L
at decay^(L + 1 - l), the embeddings at decay^(L + 1). `random_init` builds the same architecture with
random weights (what pretraining buys).
"""

from __future__ import annotations

import re
from typing import Any, Literal

import torch
from pydantic import Field, field_validator
from torch import nn

from trainlab import hub
from trainlab.data.base import DataInfo
from trainlab.errors import TrainlabError
from trainlab.spec.config import Named

FREEZE = re.compile(r"^(none|encoder|embeddings|layers:[1-9]\d*)$")


class HFEncoderConfig(Named):
    name: str = "hf_encoder"
    pretrained: str = hub.BUNDLED  # a folder, all-MiniLM-L6-v2 (offline), or a Hugging Face Hub name
    pooling: Literal["cls", "mean"] = "mean"
    freeze: str = "none"
    layer_decay: float | None = Field(None, gt=0, le=1)
    cache_features: bool = False
    dropout: float = Field(0.1, ge=0, lt=1)
    random_init: bool = False

    @field_validator("freeze")
    @classmethod
    def _freeze_known(cls, value: str) -> str:
        if not FREEZE.match(value):
            raise ValueError(f"must be none, encoder, embeddings or layers:K (got {value!r})")
        return value


class HFEncoderClassifier(nn.Module):
    # Why it trains alone under --pack (trainlab.train.packed reads this of any model): transformers' code
    # branches on tensor values (its attention masks), which vmap cannot batch.
    unpackable = "its Hugging Face model branches on tensor values, which vmap cannot batch"

    def __init__(self, encoder: nn.Module, classes: int, cfg: HFEncoderConfig) -> None:
        super().__init__()
        self.encoder, self.cfg = encoder, cfg
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(encoder.config.hidden_size, classes)
        self.frozen = [m for m in self._frozen_modules() if m is not None]
        for module in self.frozen:
            module.requires_grad_(False)
        self.cached = cfg.cache_features and cfg.freeze == "encoder"
        self._features: dict[int, torch.Tensor] = {}  # example number -> pooled features (frozen encoder only)

    def _layers(self) -> nn.ModuleList:
        return self.encoder.encoder.layer

    def _frozen_modules(self) -> list[nn.Module | None]:
        freeze = self.cfg.freeze
        if freeze == "none":
            return []
        if freeze == "encoder":
            return [self.encoder]
        embeddings = [self.encoder.embeddings]
        if freeze == "embeddings":
            return embeddings
        k = int(freeze.split(":")[1])
        return [*embeddings, *self._layers()[:k]]

    def train(self, mode: bool = True) -> HFEncoderClassifier:
        super().train(mode)
        for module in self.frozen:  # frozen parts compute the same function in training and evaluation
            module.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, 3, T)
        if self.cached:
            return self.head(self.dropout(self._cached_features(x)))
        return self.head(self.dropout(self.features(x)))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        ids, mask = x[:, 0], x[:, 1]  # (B, T) each
        hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state  # (B, T, H)
        if self.cfg.pooling == "cls":
            return hidden[:, 0]
        weights = mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1): real tokens only
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)

    def _cached_features(self, x: torch.Tensor) -> torch.Tensor:
        numbers = x[:, 2, 0].tolist()
        missing = [i for i, n in enumerate(numbers) if n not in self._features]
        if missing:
            with torch.no_grad():
                computed = self.features(x[missing]).float()
            self._features.update(zip((numbers[i] for i in missing), computed))
        return torch.stack([self._features[n] for n in numbers])

    def lr_scales(self) -> dict[nn.Parameter, float]:
        """Layer-wise learning-rate decay: each trainable parameter's factor on the learning rate."""
        decay = self.cfg.layer_decay
        if decay is None:
            return {}
        depth = len(self._layers())
        scales = {p: decay ** (depth + 1) for p in self.encoder.embeddings.parameters()}
        for i, layer in enumerate(self._layers(), start=1):
            scales.update({p: decay ** (depth + 1 - i) for p in layer.parameters()})
        return {p: scales.get(p, 1.0) for p in self.parameters() if p.requires_grad}


def _encoder(cfg: HFEncoderConfig) -> Any:
    """The pretrained encoder; its architecture alone with `random_init` (weights from the run's seeded
    initialisation) or on the meta device (`trainlab check` counts parameters without loading weights)."""
    if cfg.random_init or hub.on_meta_device():
        return hub.transformers().AutoModel.from_config(hub.config(cfg.pretrained))
    return hub.model(cfg.pretrained)


def build_hf_encoder(cfg: HFEncoderConfig, info: DataInfo) -> nn.Module:
    if info.task != "classification" or len(info.input_shape) != 2 or info.input_shape[0] != 3:
        raise TrainlabError(
            "model.name: hf_encoder classifies tokenized text; use data verbal_arithmetic or text_classification"
        )
    encoder = _encoder(cfg)
    if getattr(encoder, "pooler", None) is not None:
        encoder.pooler = None  # BERT's [CLS] pooler is unused (the head pools the hidden states itself)
    if not hasattr(encoder, "encoder") or not hasattr(encoder.encoder, "layer"):
        raise TrainlabError(
            f"model.pretrained {cfg.pretrained!r}: a {type(encoder).__name__}, not a BERT-style "
            "encoder (embeddings + encoder.layer); trainlab's hf_encoder needs one"
        )
    depth, vocab = len(encoder.encoder.layer), encoder.config.vocab_size
    if cfg.freeze.startswith("layers:") and int(cfg.freeze.split(":")[1]) > depth:
        raise TrainlabError(f"model.freeze {cfg.freeze}: {cfg.pretrained} has only {depth} layers")
    if info.vocab is not None and info.vocab > vocab:
        raise TrainlabError(
            f"data.tokenizer {info.tokenizer}: its vocabulary ({info.vocab:,} tokens) does not fit "
            f"model.pretrained {cfg.pretrained} ({vocab:,}); use the model's own tokenizer "
            "(data.tokenizer: model)"
        )
    return HFEncoderClassifier(encoder, info.num_classes, cfg)
