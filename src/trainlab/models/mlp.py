"""`mlp`: flatten the input, then Linear + activation (+ dropout) per hidden width, then a linear head."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field
from torch import nn

from trainlab.data.base import DataInfo
from trainlab.spec.config import Named

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


class MLPConfig(Named):
    name: str = "mlp"
    hidden: tuple[int, ...] = (256,)
    activation: Literal["relu", "gelu", "tanh"] = "relu"
    dropout: float = Field(0.0, ge=0, lt=1)


class LeNet300100Config(Named):
    """LeNet-300-100 (LeCun et al. 1998), the lottery-ticket paper's MNIST network: 784-300-100-10, ReLU."""

    name: str = "lenet_300_100"


def build_lenet_300_100(cfg: LeNet300100Config, info: DataInfo) -> nn.Module:
    return build_mlp(MLPConfig(name="mlp", hidden=(300, 100)), info)


def build_mlp(cfg: MLPConfig, info: DataInfo) -> nn.Module:
    widths = [math.prod(info.input_shape), *cfg.hidden]
    layers: list[nn.Module] = [nn.Flatten()]
    for w_in, w_out in zip(widths, widths[1:]):
        layers += [nn.Linear(w_in, w_out), ACTIVATIONS[cfg.activation]()]
        if cfg.dropout:
            layers.append(nn.Dropout(cfg.dropout))
    layers.append(nn.Linear(widths[-1], info.num_classes))
    return nn.Sequential(*layers)
