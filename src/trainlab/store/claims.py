"""Claims: a driver claims a run in the store before training it, so two `trainlab run` on one store
never train the same run. A claim names its holder (host, pid) and carries a heartbeat; a holder whose
pid is gone (same host) or whose heartbeat is stale (any host) is dead, and its runs are taken over and
resumed from their checkpoints.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from trainlab.errors import TrainlabError
from trainlab.store.connection import connect, immediate

HEARTBEAT_S = 10.0  # how often a holder says it is alive
STALE_S = 60.0  # a holder silent this long is dead, wherever it runs


@dataclass(frozen=True)
class Claim:
    """The answer to a claim: granted or not, and the other holder (alive when refused, dead when taken over)."""

    granted: bool
    holder: str | None = None


def holder_alive(host: str, pid: int, heartbeat: float, stale_s: float) -> bool:
    """A claim's holder is alive while its heartbeat is younger than `stale_s` and, on this host, while its
    pid is (a holder killed with kill -9 leaves a fresh heartbeat behind)."""
    if time.time() - heartbeat > stale_s:
        return False
    return pid_alive(pid) if host == socket.gethostname() else True


def pid_alive(pid: int) -> bool:
    """Whether a process of this host exists and is not a zombie (killed, not yet reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class Claims:
    """This process's claims on one store; a background thread keeps their heartbeat fresh."""

    def __init__(self, store_path: Path, heartbeat_s: float = HEARTBEAT_S, stale_s: float = STALE_S) -> None:
        self.path, self.heartbeat_s, self.stale_s = store_path, heartbeat_s, stale_s
        self.host, self.pid, self.token = socket.gethostname(), os.getpid(), uuid.uuid4().hex
        self._db = connect(store_path)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def take(self, key: str) -> Claim:
        with immediate(self._db) as db:
            row = db.execute("SELECT host, pid, token, heartbeat FROM claims WHERE key = ?", (key,)).fetchone()
            holder = None if row is None or row[2] == self.token else f"{row[0]} pid {row[1]}"
            if holder and self._alive(*row[:2], heartbeat=row[3]):
                return Claim(False, holder)
            db.execute(
                "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?)",
                (key, self.host, self.pid, self.token, time.time()),
            )
        self._start_heartbeat()
        return Claim(True, holder)

    def register_driver(self, exclusive: bool) -> None:
        """Record that a driver runs on this store. One that trains with parallel workers (`exclusive`) must
        be its store's only driver, since it is the one writer of every run it trains; drivers of one
        process each may share a store (their claims divide the work). Raises a TrainlabError naming the
        live driver in the way."""
        with immediate(self._db) as db:
            rows = db.execute(
                "SELECT key, host, pid, heartbeat FROM claims WHERE key LIKE 'driver:%' AND token != ?", (self.token,)
            ).fetchall()
            live = [r for r in rows if self._alive(r[1], r[2], heartbeat=r[3])]
            blocking = live if exclusive else [r for r in live if r[0].startswith("driver:exclusive:")]
            if not blocking:
                db.execute(
                    "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?)",
                    (
                        f"driver:{'exclusive' if exclusive else 'shared'}:{self.token}",
                        self.host,
                        self.pid,
                        self.token,
                        time.time(),
                    ),
                )
        if blocking:
            key, host, pid, _ = blocking[0]
            why = (
                "a run with --workers or --executor ray must be its store's only driver (it writes every run it trains)"
                if exclusive
                else "it trains with parallel workers and must be the store's only driver"
            )
            raise TrainlabError(
                f"store {self.path.parent}: another trainlab run holds it (pid {pid} on host {host}); "
                f"{why}: wait for it to finish, or use another --store"
            )
        self._start_heartbeat()

    def release(self, key: str) -> None:
        self._forget("key = ? AND token = ?", (key, self.token))

    def close(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self._forget("token = ?", (self.token,))
        self._db.close()

    def _forget(self, where: str, args: tuple[str, ...]) -> None:
        """Delete our claims. Runs on the way out of errors too (a full disk): a claim left behind is
        harmless, since its pid is gone once this process ends, so a failure here must not hide the error."""
        try:
            self._db.execute(f"DELETE FROM claims WHERE {where}", args)
        except sqlite3.OperationalError:
            pass

    def _alive(self, host: str, pid: int, heartbeat: float) -> bool:
        return holder_alive(host, pid, heartbeat, self.stale_s)

    def _start_heartbeat(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._beat, name="trainlab-claims", daemon=True)
            self._thread.start()

    def _beat(self) -> None:
        db = connect(self.path)
        try:
            while not self._stop.wait(self.heartbeat_s):
                try:
                    db.execute("UPDATE claims SET heartbeat = ? WHERE token = ?", (time.time(), self.token))
                except sqlite3.OperationalError:  # busy or full: the next beat tries again, well within STALE_S
                    continue
        finally:
            db.close()
