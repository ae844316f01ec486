"""IDX image datasets: the official format written by the tests, the real files, and every failure."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import SHARED, run_cli, write_study
from trainlab.data import DATASETS
from trainlab.data.download import fetch, file_hash
from trainlab.data.images import IDX_FILES, ImageConfig, load_mnist, normalizer, read_idx
from trainlab.errors import TrainlabError


def write_idx(path: Path, array: np.ndarray) -> None:
    """The IDX format: two zero bytes, dtype 0x08 (uint8), ndim, big-endian uint32 dims, raw data."""
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape))
        f.write(array.astype(np.uint8).tobytes())


def fake_mnist(folder: Path, n_train: int = 50, n_test: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n_train, dtype=np.uint8)
    for name, arr in zip(IDX_FILES, (images, labels, images[:n_test], labels[:n_test])):
        write_idx(folder / name, arr)
    return images, labels


def test_generated_idx_files_load_into_disjoint_normalised_splits(tmp_path: Path) -> None:
    """Written images come back exactly; valid is carved from train without overlap; batches are normalised."""
    images, labels = fake_mnist(tmp_path)
    data = load_mnist(ImageConfig(name="mnist", root=str(tmp_path), valid_size=10))
    assert (len(data.train), len(data.valid), len(data.test)) == (40, 10, 20)
    assert data.info.input_shape == (1, 28, 28) and data.train.x.dtype == torch.uint8
    together = torch.cat([data.train.x, data.valid.x]).squeeze(1).numpy()
    assert sorted(map(bytes, together)) == sorted(map(bytes, images))  # a partition of the training set
    x, _ = next(data.valid.batches(10))
    raw = data.valid.x[:10].float() / 255
    torch.testing.assert_close(x, (raw - 0.1307) / 0.3081)


def test_real_mnist_and_fashion_mnist(tmp_path: Path) -> None:
    """The official files: 55,000/5,000/10,000 examples, all ten classes, labels in range."""
    if not (SHARED / "mnist").exists():
        pytest.skip(f"real data not found at {SHARED}")
    for name, folder in (("mnist", "mnist"), ("fashion_mnist", "fashion-mnist")):
        entry = DATASETS.get(name)
        data = entry.build(entry.config(name=name, root=str(SHARED / folder)))
        assert (len(data.train), len(data.valid), len(data.test)) == (55_000, 5_000, 10_000)
        assert set(data.test.y.tolist()) == set(range(10))


def test_corrupted_file_is_a_clear_error(tmp_path: Path) -> None:
    """A truncated or foreign file says which file and what to do."""
    fake_mnist(tmp_path)
    (tmp_path / IDX_FILES[0]).write_bytes(b"not gzip at all")
    with pytest.raises(TrainlabError, match="not a valid IDX .gz file"):
        load_mnist(ImageConfig(name="mnist", root=str(tmp_path)))
    with pytest.raises(TrainlabError, match="not a valid IDX"):
        read_idx(tmp_path / IDX_FILES[0])


def test_download_checks_the_md5(tmp_path: Path) -> None:
    """A fetched file whose md5 differs from the official one is refused and not kept."""
    source = tmp_path / "source.gz"
    source.write_bytes(b"some bytes")
    with pytest.raises(TrainlabError, match="does not match the official"):
        fetch(source.as_uri(), tmp_path / "dest" / "f.gz", "0" * 32)
    assert not (tmp_path / "dest" / "f.gz").exists()
    good = fetch(source.as_uri(), tmp_path / "dest" / "f.gz", file_hash(source, "md5"))
    assert good.read_bytes() == b"some bytes"


def test_missing_data_path_says_where_it_looked_and_writes_nothing(tmp_path: Path) -> None:
    """`trainlab run` with no data files: exit 2, the folder it searched, how to get the files."""
    study = write_study(
        tmp_path, runs=[{"data.name": "mnist", "data.root": str(tmp_path / "nope"), "model.name": "mlp"}]
    )
    result = run_cli("run", str(study))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"files not found in {tmp_path / 'nope'}" in result.stderr and "data.download: true" in result.stderr
    assert not (tmp_path / "store").exists()


def test_normalizer_is_the_per_channel_formula_for_every_pixel_value() -> None:
    """(x/255 - mean) / std per channel, for each of the 256 values of a uint8 pixel, to float32 rounding."""
    mean, std = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)
    x = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16).expand(2, 3, 16, 16)
    expected = (x.double() / 255 - torch.tensor(mean).double().view(1, 3, 1, 1)) / torch.tensor(std).double().view(
        1, 3, 1, 1
    )
    got = normalizer(mean, std)(x)
    assert got.dtype == torch.float32 and got.shape == x.shape
    torch.testing.assert_close(got.double(), expected, rtol=0, atol=1e-6)
