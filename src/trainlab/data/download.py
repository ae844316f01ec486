"""Files that datasets need: found under `data.root`, or downloaded from the canonical URL and checked."""

from __future__ import annotations

import hashlib
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from trainlab.errors import TrainlabError


def file_hash(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(url: str, dest: Path, digest: str | None, algorithm: str = "md5") -> Path:
    """Download `url` to `dest` (via a temp file) and verify its checksum (None: the caller checks the
    content); a mismatch deletes it."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise TrainlabError(f"download of {url} failed ({err}); copy the file to {dest} instead") from None
    got = digest and file_hash(tmp, algorithm)
    if got != digest:
        tmp.unlink()
        raise TrainlabError(f"download of {url}: {algorithm} {got} does not match the official {digest}; not saved")
    tmp.replace(dest)
    return dest


def locate(
    root: str | None,
    files: Mapping[str, str],
    base_url: str,
    download: bool,
    what: str,
    default_root: str,
    algorithm: str = "md5",
) -> Path:
    """The folder holding every file in `files` (name -> checksum), downloading missing ones if allowed."""
    folder = Path(root or default_root).expanduser()
    missing = [name for name in files if not (folder / name).exists()]
    if missing and not download:
        raise TrainlabError(
            f"data.root: {what} files not found in {folder.resolve()} (missing {', '.join(missing)}); "
            f"set data.root to the folder holding them, or data.download: true to fetch them from {base_url}"
        )
    for name in missing:
        fetch(base_url + name, folder / name, files[name], algorithm)
    return folder
