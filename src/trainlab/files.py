"""Files written atomically (temp file, fsync, rename), and a full disk reported as one clear line.

A write that fails leaves the previous file intact and no temp file behind, so a rerun on a disk with
space continues from what was there.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from trainlab.errors import TrainlabError

FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def write_atomic(path: Path, write: Callable[[BinaryIO], None], needed_bytes: int = 0) -> None:
    """Write through `write(file)` beside `path`, then rename over it; `needed_bytes` (an estimate of the
    file's size) goes into the message when the disk is full."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with interrupts_deferred(), open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            os.replace(tmp, path)
    except (OSError, RuntimeError) as err:  # torch.save reports a failed write as a RuntimeError
        tmp.unlink(missing_ok=True)
        if is_disk_full(err, path, needed_bytes):
            raise disk_full(path, needed_bytes) from None
        raise


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Ctrl-C during a write takes effect when the write is complete. Raised inside torch.save, the
    KeyboardInterrupt comes out of its C++ writer as a RuntimeError ('unexpected pos ...'), which would
    look like a failed run instead of an interruption."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            signal.raise_signal(signal.SIGINT)  # now handled as it would have been


@contextmanager
def written_in_place(path: Path) -> Iterator[Path]:
    """For writers that need a file name (an animation): a temporary name beside `path` with its suffix,
    renamed over `path` once the block is done, removed if it raises."""
    tmp = path.with_name(f"{path.stem}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    data = text.encode("utf-8")
    write_atomic(path, lambda f: f.write(data), len(data))


def is_disk_full(err: BaseException, path: Path, needed_bytes: int = 0) -> bool:
    """ENOSPC (or a quota) anywhere in the exception's chain; torch's writer may report it as a
    RuntimeError of its own, with or without the OSError attached."""
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno in FULL:
            return True
        cause = cause.__cause__ or cause.__context__
    return "write failed" in str(err) and free_bytes(path) < needed_bytes + 2**20


def free_bytes(path: Path) -> int:
    for folder in (path, *path.parents):
        if folder.exists():
            return shutil.disk_usage(folder).free
    return 0


def disk_full(path: Path, needed_bytes: int = 0) -> TrainlabError:
    needed = f"; about {human_bytes(needed_bytes)} more needed" if needed_bytes else ""
    return TrainlabError(
        f"disk full: cannot write {path} ({human_bytes(free_bytes(path))} free{needed}); free some space or "
        "move the store (--store DIR), then rerun the same command to continue where it stopped"
    )


def human_bytes(n: float) -> str:
    units = ("B", "kB", "MB", "GB", "TB")
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n, i = n / 1000, i + 1
    return f"{n:.0f} {units[i]}" if i == 0 else f"{n:.1f} {units[i]}"
