"""The UvA Deep Learning Course CNN baselines (Lippe, Tutorial 5) and LeNet-300-100.

GoogleNet (Szegedy et al. 2015, CIFAR-sized), ResNet (He et al. 2016) and its pre-activation variant
(He et al. 2016b) with [3, 3, 3] blocks of 16/32/64 channels, DenseNet (Huang et al. 2017) with
[6, 6, 6, 6] layers, growth 16, bottleneck 2. Parameter counts on CIFAR-10: 260,650, 272,378,
272,250, 239,146. Any channel count and image size work (global average pooling before the head).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from trainlab.data.base import DataInfo
from trainlab.errors import TrainlabError
from trainlab.spec.config import Named


class CNNConfig(Named):
    """The tutorial's architectures are fixed; only the activation is an option, as in the tutorial."""

    activation: Literal["relu", "gelu", "tanh", "leakyrelu"] = "relu"


ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "leakyrelu": nn.LeakyReLU}


def conv_bn_act(c_in: int, c_out: int, act: type[nn.Module], **conv: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, **conv), nn.BatchNorm2d(c_out), act()]


class Inception(nn.Module):
    """Four parallel branches (1×1; 1×1 -> 3×3; 1×1 -> 5×5; 3×3 max-pool -> 1×1), concatenated."""

    def __init__(self, c_in: int, red: tuple[int, int], out: tuple[int, int, int, int], act: type[nn.Module]):
        super().__init__()
        self.branches = nn.ModuleList(
            [
                nn.Sequential(*conv_bn_act(c_in, out[0], act, kernel_size=1)),
                nn.Sequential(
                    *conv_bn_act(c_in, red[0], act, kernel_size=1),
                    *conv_bn_act(red[0], out[1], act, kernel_size=3, padding=1),
                ),
                nn.Sequential(
                    *conv_bn_act(c_in, red[1], act, kernel_size=1),
                    *conv_bn_act(red[1], out[2], act, kernel_size=5, padding=2),
                ),
                nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), *conv_bn_act(c_in, out[3], act, kernel_size=1)),
            ]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)  # (B, sum(out), H, W)


def googlenet(channels: int, classes: int, act: type[nn.Module]) -> nn.Module:
    def block(c_in: int, red: tuple[int, int], out: tuple[int, int, int, int]) -> Inception:
        return Inception(c_in, red, out, act)

    return nn.Sequential(
        *conv_bn_act(channels, 64, act, kernel_size=3, padding=1),
        block(64, (32, 16), (16, 32, 8, 8)),
        block(64, (32, 16), (24, 48, 12, 12)),
        nn.MaxPool2d(3, stride=2, padding=1),  # 32×32 -> 16×16
        block(96, (32, 16), (24, 48, 12, 12)),
        block(96, (32, 16), (16, 48, 16, 16)),
        block(96, (32, 16), (16, 48, 16, 16)),
        block(96, (32, 16), (32, 48, 24, 24)),
        nn.MaxPool2d(3, stride=2, padding=1),  # 16×16 -> 8×8
        block(128, (48, 16), (32, 64, 16, 16)),
        block(128, (48, 16), (32, 64, 16, 16)),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(128, classes),
    )


class ResidualBlock(nn.Module):
    """Post-activation (ResNet) or pre-activation (ResNetPreAct) block; stride 2 and a 1×1 shortcut
    when it subsamples."""

    def __init__(self, c_in: int, c_out: int, subsample: bool, act: type[nn.Module], pre_activation: bool):
        super().__init__()
        stride = 2 if subsample else 1
        conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, stride=stride, bias=False)
        conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.pre_activation = pre_activation
        if pre_activation:
            self.net = nn.Sequential(nn.BatchNorm2d(c_in), act(), conv1, nn.BatchNorm2d(c_out), act(), conv2)
            shortcut = [nn.BatchNorm2d(c_in), act(), nn.Conv2d(c_in, c_out, 1, stride=2, bias=False)]
        else:
            self.net = nn.Sequential(conv1, nn.BatchNorm2d(c_out), act(), conv2, nn.BatchNorm2d(c_out))
            shortcut = [nn.Conv2d(c_in, c_out, 1, stride=2)]
        self.shortcut = nn.Sequential(*shortcut) if subsample else nn.Identity()
        self.act = nn.Identity() if pre_activation else act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.net(x) + self.shortcut(x))


def resnet(channels: int, classes: int, act: type[nn.Module], pre_activation: bool) -> nn.Module:
    widths, blocks = (16, 32, 64), (3, 3, 3)
    stem = nn.Conv2d(channels, widths[0], 3, padding=1, bias=False)
    # pre-activation blocks start with BN + activation, so the stem stops at the convolution
    layers: list[nn.Module] = [stem] if pre_activation else [stem, nn.BatchNorm2d(widths[0]), act()]
    c_in = widths[0]
    for stage, (width, count) in enumerate(zip(widths, blocks)):
        for i in range(count):
            layers.append(
                ResidualBlock(c_in, width, subsample=stage > 0 and i == 0, act=act, pre_activation=pre_activation)
            )
            c_in = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, classes))


class DenseLayer(nn.Module):
    """BN-act-1×1 conv (bottleneck) -> BN-act-3×3 conv giving `growth` new channels, concatenated."""

    def __init__(self, c_in: int, bottleneck: int, growth: int, act: type[nn.Module]) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.BatchNorm2d(c_in),
            act(),
            nn.Conv2d(c_in, bottleneck * growth, 1, bias=False),
            nn.BatchNorm2d(bottleneck * growth),
            act(),
            nn.Conv2d(bottleneck * growth, growth, 3, padding=1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.net(x), x], dim=1)  # (B, C + growth, H, W)


def densenet(channels: int, classes: int, act: type[nn.Module]) -> nn.Module:
    layers_per_block, bottleneck, growth = (6, 6, 6, 6), 2, 16
    c = bottleneck * growth
    layers: list[nn.Module] = [nn.Conv2d(channels, c, 3, padding=1)]  # BN and activation live in the layers
    for i, count in enumerate(layers_per_block):
        for _ in range(count):
            layers.append(DenseLayer(c, bottleneck, growth, act))
            c += growth
        if i < len(layers_per_block) - 1:  # transition: halve channels and resolution
            layers += [nn.BatchNorm2d(c), act(), nn.Conv2d(c, c // 2, 1, bias=False), nn.AvgPool2d(2)]
            c //= 2
    return nn.Sequential(
        *layers, nn.BatchNorm2d(c), act(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, classes)
    )


def _image_info(info: DataInfo, name: str) -> tuple[int, int]:
    if len(info.input_shape) != 3:
        raise TrainlabError(f"model.name: {name} needs images (C, H, W); the data gives {info.input_shape}")
    return info.input_shape[0], info.num_classes


def build_googlenet(cfg: CNNConfig, info: DataInfo) -> nn.Module:
    return googlenet(*_image_info(info, "googlenet"), ACTIVATIONS[cfg.activation])


def build_resnet(cfg: CNNConfig, info: DataInfo) -> nn.Module:
    return resnet(*_image_info(info, "resnet"), ACTIVATIONS[cfg.activation], pre_activation=False)


def build_resnet_preact(cfg: CNNConfig, info: DataInfo) -> nn.Module:
    return resnet(*_image_info(info, "resnet_preact"), ACTIVATIONS[cfg.activation], pre_activation=True)


def build_densenet(cfg: CNNConfig, info: DataInfo) -> nn.Module:
    return densenet(*_image_info(info, "densenet"), ACTIVATIONS[cfg.activation])
