"""Atomic writes: a failed or interrupted write leaves the previous file and no temp file; a full disk
is one clear line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from trainlab.errors import TrainlabError
from trainlab.files import human_bytes, write_atomic, write_text_atomic
from trainlab.train import checkpoint


def test_a_write_that_fails_keeps_the_previous_file(tmp_path: Path) -> None:
    """An error mid-write (here a bug in the writer) leaves the old content and no .tmp beside it."""
    path = tmp_path / "f.txt"
    write_text_atomic(path, "old")

    def broken(f) -> None:  # noqa: ANN001
        f.write(b"half")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        write_atomic(path, broken)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_a_full_disk_is_one_line_with_the_space(tmp_path: Path) -> None:
    """ENOSPC from the file system (a 64 kB tmpfs) becomes a TrainlabError naming the file, the free
    space and about how much more is needed; the previous file survives."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("needs root to mount a small tmpfs")
    try:
        path = disk / "last.pt"
        checkpoint.save_atomic({"w": torch.zeros(1000)}, path)
        with pytest.raises(
            TrainlabError,
            match=r"disk full: cannot write .*last\.pt \(\d+(\.\d)? k?B free; about 400\.0 kB more needed\)",
        ):
            checkpoint.save_atomic({"w": torch.zeros(100_000)}, path)
        assert torch.load(path, weights_only=True)["w"].shape == (1000,)
        assert [p.name for p in disk.iterdir()] == ["last.pt"]
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_ctrl_c_during_a_checkpoint_write_is_an_interruption(tmp_path: Path) -> None:
    """SIGINT while torch.save writes: a KeyboardInterrupt once the file is complete (torch alone turns
    it into a RuntimeError and leaves a broken file)."""
    path = tmp_path / "big.pt"
    tensor = torch.randn(5_000_000)
    sender = subprocess.Popen(
        [sys.executable, "-c", f"import os, time; time.sleep(0.5); os.kill({os.getpid()}, {int(signal.SIGINT)})"]
    )
    deadline = time.time() + 30
    with pytest.raises(KeyboardInterrupt):
        while time.time() < deadline:
            checkpoint.save_atomic({"w": tensor}, path)
    sender.wait()
    assert torch.equal(torch.load(path, weights_only=True)["w"], tensor)
    assert not path.with_name("big.pt.tmp").exists()


def test_last_keeps_its_predecessor_and_a_damaged_newest_falls_back(tmp_path: Path) -> None:
    """save_keeping_previous: the old file becomes .prev; load_newest reads the newest readable one and
    says what it skipped."""
    path = tmp_path / "last.pt"
    for epoch in (1, 2):
        checkpoint.save_keeping_previous({"epoch": epoch}, path)
    assert checkpoint.load(path, torch.device("cpu"))["epoch"] == 2
    assert checkpoint.load(checkpoint.previous(path), torch.device("cpu"))["epoch"] == 1
    path.write_bytes(path.read_bytes()[:20])
    snapshot, notes = checkpoint.load_newest(path, torch.device("cpu"))
    assert snapshot["epoch"] == 1 and len(notes) == 1 and "last.pt: unreadable checkpoint" in notes[0]
    checkpoint.previous(path).write_bytes(b"")
    assert checkpoint.load_newest(path, torch.device("cpu"))[0] is None


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (400_000, "400.0 kB"),
        (3_200_000_000, "3.2 GB"),
        (5e15, "5000.0 TB"),
    ],
)
def test_human_bytes(n: float, text: str) -> None:
    """Sizes in messages: decimal units, one decimal above bytes."""
    assert human_bytes(n) == text
