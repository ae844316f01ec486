"""CIFAR-10 on pickles the tests write in the official format: splits, statistics, archive, failures."""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from trainlab.data.cifar import FOLDER, TRAIN_BATCHES, load_cifar10
from trainlab.data.images import ImageConfig
from trainlab.errors import TrainlabError


def write_batches(folder: Path, per_batch: int = 20) -> np.ndarray:
    """Official layout: dicts with b"data" uint8 (N, 3072) row-major RGB planes and b"labels"."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images = []
    for name in (*TRAIN_BATCHES, "test_batch"):
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, per_batch)]
        with open(folder / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"data": data, b"labels": labels}, f)
        images.append(data)
    return np.concatenate(images)


def config(root: Path, **extra: object) -> ImageConfig:
    return ImageConfig(name="cifar10", root=str(root), valid_size=10, **extra)


def test_pickles_load_as_channel_planes_with_disjoint_splits(tmp_path: Path) -> None:
    """100 train images -> 90/10 split without overlap; pixels are the written RGB planes."""
    raw = write_batches(tmp_path / FOLDER)
    data = load_cifar10(config(tmp_path))
    assert (len(data.train), len(data.valid), len(data.test)) == (90, 10, 20)
    assert data.info.input_shape == (3, 32, 32) and data.info.num_classes == 10
    written = {bytes(r) for r in raw[:100]}
    got = [bytes(x.reshape(-1).numpy()) for x in torch.cat([data.train.x, data.valid.x])]
    assert set(got) == written and len(set(got)) == 100
    red_plane = torch.from_numpy(raw[100:120, :1024].reshape(20, 32, 32))
    assert torch.equal(data.test.x[:, 0], red_plane)


def test_normalisation_uses_the_cifar10_statistics(tmp_path: Path) -> None:
    """A batch is (x/255 - mean) / std per channel with the dataset's published statistics."""
    write_batches(tmp_path / FOLDER)
    data = load_cifar10(config(tmp_path))
    x, _ = next(data.test.batches(4))
    expected = (data.test.x[:4, 2].float() / 255 - 0.44653091) / 0.26158784
    torch.testing.assert_close(x[:, 2], expected)


def test_archive_is_extracted(tmp_path: Path) -> None:
    """A cifar-10-python.tar.gz in data.root is unpacked and read."""
    write_batches(tmp_path / "src" / FOLDER)
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "src" / FOLDER, arcname=FOLDER)
    assert len(load_cifar10(config(tmp_path)).test) == 20


def test_corrupted_pickle_is_a_clear_error(tmp_path: Path) -> None:
    """A damaged batch file names itself."""
    write_batches(tmp_path / FOLDER)
    (tmp_path / FOLDER / "data_batch_3").write_bytes(b"\x80\x04garbage")
    with pytest.raises(TrainlabError, match="data_batch_3: not a CIFAR-10 batch"):
        load_cifar10(config(tmp_path))


def test_missing_data_and_wrong_md5(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No data: where it looked and how to fetch. A download whose md5 is not the official one is refused."""
    with pytest.raises(TrainlabError, match="CIFAR-10 not found.*data.download: true"):
        load_cifar10(config(tmp_path / "empty"))
    fake = tmp_path / "fake.tar.gz"
    with tarfile.open(fake, "w:gz") as tar:
        tar.addfile(tarfile.TarInfo("x"), io.BytesIO(b""))
    monkeypatch.setattr("trainlab.data.cifar.URL", fake.as_uri())
    with pytest.raises(TrainlabError, match="does not match the official c58f30108f718f92721af3b95e74349a"):
        load_cifar10(config(tmp_path / "dl", download=True))
    assert not (tmp_path / "dl" / "cifar-10-python.tar.gz").exists()
