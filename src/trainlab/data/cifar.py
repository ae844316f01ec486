"""CIFAR-10 (Krizhevsky 2009) from the official `cifar-10-batches-py` pickles or its `.tar.gz`.

Each pickle is a dict with b"data": uint8 (N, 3072), row-major RGB planes of 32×32, and b"labels".
Downloads are checked against the official archive's md5.
"""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import numpy as np
import torch

from trainlab.data.base import DataBundle
from trainlab.data.download import fetch
from trainlab.data.images import CLASS_NAMES, ImageConfig, image_bundle
from trainlab.errors import TrainlabError

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE, ARCHIVE_MD5 = "cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
MEAN = (0.49139968, 0.48215841, 0.44653091)
STD = (0.24703223, 0.24348513, 0.26158784)


def read_batch(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """One pickle -> uint8 images (N, 3, 32, 32) and int64 labels."""
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
        images = data.reshape(-1, 3, 32, 32)
    except FileNotFoundError:
        raise
    except (OSError, pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as err:
        raise TrainlabError(f"{path}: not a CIFAR-10 batch ({type(err).__name__}: {err}); fetch it again") from None
    if len(images) != len(labels):
        raise TrainlabError(f"{path}: {len(images)} images but {len(labels)} labels")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels)


def _folder(cfg: ImageConfig) -> Path:
    """The batches folder, extracting the archive (found or downloaded) when needed."""
    root = Path(cfg.root or "data/cifar10").expanduser()
    for folder in (root / FOLDER, root):  # data.root may name the batches folder itself
        if (folder / "test_batch").exists():
            return folder
    archive = root / ARCHIVE
    if not archive.exists():
        if not cfg.download:
            raise TrainlabError(
                f"data.root: CIFAR-10 not found in {root.resolve()} (looked for {FOLDER}/ and {ARCHIVE}); "
                f"set data.root to the folder holding them, or data.download: true to fetch {URL}"
            )
        fetch(URL, archive, ARCHIVE_MD5)
    try:
        with tarfile.open(archive) as tar:
            # the "data" filter refuses paths outside root (Python >= 3.10.12 / 3.11.4)
            tar.extractall(root, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    except (tarfile.TarError, OSError, EOFError) as err:
        raise TrainlabError(
            f"{archive}: not a readable CIFAR-10 archive ({err}); delete it and fetch it again"
        ) from None
    if not (root / FOLDER / "test_batch").exists():
        raise TrainlabError(f"{archive}: does not contain {FOLDER}/test_batch")
    return root / FOLDER


def load_cifar10(cfg: ImageConfig) -> DataBundle:
    folder = _folder(cfg)
    try:
        parts = [read_batch(folder / name) for name in TRAIN_BATCHES]
        test = read_batch(folder / "test_batch")
    except FileNotFoundError as err:
        raise TrainlabError(f"{folder}: missing {Path(err.filename).name}; the folder is incomplete") from None
    train = (torch.cat([x for x, _ in parts]), torch.cat([y for _, y in parts]))
    return image_bundle(cfg, train, test, MEAN, STD, CLASS_NAMES["cifar10"])
