"""A user's own code, as the plugin tests name it by import path (`tests.plugin_code:TinyNet`): a model whose
options come from its signature, one with BatchNorm, one that vmap cannot batch, one with its own pydantic
config, a dataset of tensors, a regression task and the dataset that uses it, and a few that are wrong on
purpose."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict
from torch import nn

from trainlab.data import DataBundle, DataInfo, TensorSplit
from trainlab.train.tasks import TaskBase


class TinyNet(nn.Module):
    """Flatten, `depth` hidden layers of `width`, a linear head; sized from the data's info."""

    def __init__(self, info: DataInfo, width: int = 16, depth: int = 1) -> None:
        super().__init__()
        size = int(torch.tensor(info.input_shape).prod())
        layers: list[nn.Module] = [nn.Flatten()]
        for _ in range(depth):
            layers += [nn.Linear(size, width), nn.ReLU()]
            size = width
        self.body = nn.Sequential(*layers, nn.Linear(size, info.num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.float())


class NormNet(nn.Module):
    """Flatten, a hidden layer of `width` with BatchNorm, a linear head: running statistics to keep per run."""

    def __init__(self, info: DataInfo, width: int = 16) -> None:
        super().__init__()
        size = int(torch.tensor(info.input_shape).prod())
        self.body = nn.Sequential(
            nn.Flatten(),
            nn.Linear(size, width, bias=False),
            nn.BatchNorm1d(width),
            nn.ReLU(),
            nn.Linear(width, info.num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.float())


class BranchyNet(TinyNet):
    """TinyNet that doubles its output where the batch's mean logit is negative: it branches on a tensor's value,
    which vmap cannot batch (such a model cannot be packed)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        return out * 2 if out.mean() < 0 else out


class WideConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    width: int = 8


def build_wide(config: WideConfig, info: DataInfo) -> nn.Module:
    """A builder as trainlab's own are: its pydantic config, then the data's info."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(int(torch.tensor(info.input_shape).prod()), config.width),
        nn.ReLU(),
        nn.Linear(config.width, info.num_classes),
    )


def blobs(n: int = 300, classes: int = 3, seed: int = 0) -> tuple:
    """Gaussian blobs in 8 dimensions, 3/4 for training: (train, valid) pairs of tensors."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, 8, generator=g) * 3
    y = torch.randint(0, classes, (n,), generator=g)
    x = centers[y] + torch.randn(n, 8, generator=g)
    cut = n * 3 // 4
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


class Regression(TaskBase):
    """Mean squared error of one output per example; lower is better."""

    main_metric = "mse"
    mode = "min"
    n_sums = 2
    throughput = "samples_per_s"

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(out.squeeze(-1), y)

    def units(self, y: torch.Tensor) -> int:
        return y.shape[0]

    def sums(self, out: torch.Tensor, y: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
        n = y.shape[0]
        return torch.stack([loss.detach() * n, loss.new_full((), n)])

    def summarize(self, sums: torch.Tensor) -> dict[str, float]:
        total, n = sums.tolist()
        return {"loss": total / n, "mse": total / n}


def sines(n: int = 400, seed: int = 0) -> DataBundle:
    """y = sin(3x) + noise, for the Regression task named by its import path."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=g) * 4 - 2
    y = torch.sin(3 * x[:, 0]) + 0.05 * torch.randn(n, generator=g)
    info = DataInfo("tests.plugin_code:Regression", (1,), 1)
    cut = n * 3 // 4
    return DataBundle(info, TensorSplit(x[:cut], y[:cut]), TensorSplit(x[cut:], y[cut:]))


def not_a_model(width: int = 4) -> str:
    return "a string"


def raising_model(info: DataInfo, width: int = 4) -> nn.Module:
    raise ValueError(f"width {width} is not allowed")


def kwargs_model(**options: object) -> nn.Module:
    return nn.Identity()


def float_labels(n: int = 10) -> tuple:
    x = torch.randn(n, 2)
    return (x, torch.randn(n)), (x, torch.randn(n))
