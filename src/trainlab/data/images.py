"""Image datasets held as one uint8 tensor (N, C, H, W); batches are normalised on the device.

MNIST and Fashion-MNIST come as the official IDX `.gz` files (LeCun et al. 1998; Xiao et al. 2017).
The validation split is carved from the training set by a seeded permutation, disjoint from it.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from trainlab.data.augment import Augmentation, augment
from trainlab.data.base import DataBundle, DataConfig, DataInfo, TensorSplit, split_by_permutation
from trainlab.data.download import locate
from trainlab.errors import TrainlabError

IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
SOURCES = {
    "mnist": {
        "url": "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "md5": (
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "d53e105ee54ea40749a09fcbcd1e9432",
            "9fb629c4189551a2d022fa330f9573f3",
            "ec29112dd5afa0611ce80d1b7f02629c",
        ),
        "mean": (0.1307,),
        "std": (0.3081,),
    },
    "fashion_mnist": {
        "url": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "md5": (
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "25c81989df183df01b3e8a0aad5dffbe",
            "bef4ecab320f06d8554ea6380940ec79",
            "bb300cfdad3c16e7a12a480ee83cd310",
        ),
        "mean": (0.2860,),
        "std": (0.3530,),
    },
}


IMAGE_SHAPES = {"mnist": (1, 28, 28), "fashion_mnist": (1, 28, 28), "cifar10": (3, 32, 32)}
CLASS_NAMES = {  # what each label is (zero-shot prompts name them)
    "mnist": tuple(str(d) for d in range(10)),
    "fashion_mnist": (
        "T-shirt",
        "trouser",
        "pullover",
        "dress",
        "coat",
        "sandal",
        "shirt",
        "sneaker",
        "bag",
        "ankle boot",
    ),
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
}


class ImageConfig(DataConfig):
    """Image data. `root` and `download` locate files, so they are not part of run ids."""

    not_in_id = frozenset({"root", "download"})

    root: str | None = None  # default: ./data/NAME
    download: bool = False
    valid_size: int = Field(5000, ge=1)  # carved from the training set by a seeded permutation
    split_seed: int = Field(0, ge=0)
    max_train: int | None = Field(None, ge=1)  # keep the first N training examples (quick CPU runs)
    augment: tuple[Augmentation, ...] = ()  # training only: hflip, crop (zero padding), resized_crop
    crop_padding: int = Field(4, ge=0)
    crop_scale: tuple[float, float] = (0.8, 1.0)  # resized_crop: area fraction (the IFT6135 course)
    crop_ratio: tuple[float, float] = (0.9, 1.1)  # resized_crop: aspect ratio
    normalize: Literal["dataset", "none"] = (
        "dataset"  # none: pixels in [0, 1], for models that normalise themselves (CLIP)
    )

    def static_info(self) -> DataInfo | None:
        shape = IMAGE_SHAPES.get(self.name)
        names = CLASS_NAMES.get(self.name)
        return DataInfo("classification", shape, len(names), class_names=names) if shape else None


def read_idx(path: Path) -> np.ndarray:
    """An IDX file: magic (0, 0, dtype 0x08 = uint8, ndim), big-endian dims, then the data."""
    try:
        with gzip.open(path, "rb") as f:
            zero, dtype, ndim = struct.unpack(">HBB", f.read(4))
            if zero != 0 or dtype != 0x08:
                raise ValueError("bad magic number")
            shape = struct.unpack(f">{ndim}I", f.read(4 * ndim))
            data = np.frombuffer(f.read(), dtype=np.uint8)
        return data.reshape(shape)
    except (OSError, EOFError, ValueError, struct.error) as err:
        raise TrainlabError(f"{path}: not a valid IDX .gz file ({err}); delete it and fetch it again") from None


def normalizer(mean: tuple[float, ...], std: tuple[float, ...]) -> Callable[[torch.Tensor], torch.Tensor]:
    """uint8 (B, C, H, W) -> float, per-channel (x/255 - mean) / std, computed as x·scale + shift in place on
    the float copy (one new tensor instead of three: a third of the time on a pack's large batches)."""
    on_device: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}  # one copy per device, not per batch

    def normalize(x: torch.Tensor) -> torch.Tensor:
        if x.device not in on_device:
            m, s = (torch.tensor(v, dtype=torch.float64).view(1, -1, 1, 1) for v in (mean, std))
            on_device[x.device] = ((1 / (255 * s)).float().to(x.device), (-m / s).float().to(x.device))
        scale, shift = on_device[x.device]
        return x.float().mul_(scale).add_(shift)

    return normalize


def image_bundle(
    cfg: ImageConfig,
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    mean: tuple[float, ...],
    std: tuple[float, ...],
    class_names: tuple[str, ...],
) -> DataBundle:
    """uint8 (N, C, H, W) images and int64 labels -> disjoint train/valid splits, normalised batches,
    augmentation on the training split."""
    x, y = train
    if cfg.valid_size >= len(x):
        raise TrainlabError(f"data.valid_size: {cfg.valid_size} leaves no training data ({len(x)} in all)")
    train_split, valid = split_by_permutation(x, y, cfg.valid_size / len(x), cfg.split_seed)
    if cfg.max_train:
        train_split = TensorSplit(train_split.x[: cfg.max_train], train_split.y[: cfg.max_train])
    normalize = (
        normalizer(mean, std) if cfg.normalize == "dataset" else normalizer((0.0,) * len(mean), (1.0,) * len(std))
    )
    augmenter = (
        partial(augment, ops=cfg.augment, padding=cfg.crop_padding, scale=cfg.crop_scale, ratio=cfg.crop_ratio)
        if cfg.augment
        else None
    )
    return DataBundle(
        DataInfo("classification", tuple(x.shape[1:]), len(class_names), class_names=class_names),
        TensorSplit(train_split.x, train_split.y, normalize, augmenter),
        TensorSplit(valid.x, valid.y, normalize),
        TensorSplit(test[0], test[1], normalize),
    )


def load_idx_dataset(cfg: ImageConfig, dataset: str) -> DataBundle:
    source = SOURCES[dataset]
    folder = locate(
        cfg.root, dict(zip(IDX_FILES, source["md5"])), source["url"], cfg.download, dataset, f"data/{dataset}"
    )
    x_train, y_train, x_test, y_test = (read_idx(folder / name) for name in IDX_FILES)
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise TrainlabError(f"{folder}: image and label counts differ; the files are not a matching set")

    def tensors(images: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))  # (N, 1, H, W)

    return image_bundle(
        cfg, tensors(x_train, y_train), tensors(x_test, y_test), source["mean"], source["std"], CLASS_NAMES[dataset]
    )


load_mnist = partial(load_idx_dataset, dataset="mnist")
load_fashion_mnist = partial(load_idx_dataset, dataset="fashion_mnist")
