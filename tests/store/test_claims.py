"""Run claims: one holder per run; dead holders (gone pid, stale heartbeat) are taken over."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from trainlab.store import Claim, Claims, Store


def store_path(tmp_path: Path) -> Path:
    store = Store(tmp_path / "s")
    store.close()
    return store.path


def test_a_live_claim_is_refused_until_released(tmp_path: Path) -> None:
    """A second driver is told who holds the run; after release it may take it."""
    path = store_path(tmp_path)
    first, second = Claims(path), Claims(path)
    assert first.take("run1").granted
    refused = second.take("run1")
    assert not refused.granted and refused.holder == f"{first.host} pid {first.pid}"
    first.release("run1")
    assert second.take("run1") == Claim(True)
    assert second.take("run1") == Claim(True)  # taking one's own claim again is fine
    first.close()
    second.close()


def test_a_claim_whose_process_died_is_taken_over(tmp_path: Path) -> None:
    """Same host, pid gone (kill -9 leaves the row behind): granted at once, the dead holder named."""
    path = store_path(tmp_path)
    code = f"from trainlab.store import Claims; Claims({str(path)!r}).take('run1')"
    dead = subprocess.run([sys.executable, "-c", code], check=True)
    assert dead.returncode == 0
    with sqlite3.connect(path) as con:
        (pid,) = con.execute("SELECT pid FROM claims WHERE key = 'run1'").fetchone()
    claim = Claims(path).take("run1")
    assert claim.granted and claim.holder.endswith(f"pid {pid}")


def test_a_claim_with_a_stale_heartbeat_is_taken_over(tmp_path: Path) -> None:
    """Another host's claim is trusted while its heartbeat is fresh, and taken over once it is stale."""
    path = store_path(tmp_path)
    with sqlite3.connect(path) as con:
        con.execute("INSERT INTO claims VALUES ('run1', 'elsewhere', 1, 'token', ?)", (time.time(),))
    claims = Claims(path, stale_s=0.5)
    assert claims.take("run1") == Claim(False, "elsewhere pid 1")
    time.sleep(0.6)
    assert claims.take("run1") == Claim(True, "elsewhere pid 1")


def test_the_heartbeat_keeps_a_long_claim_alive(tmp_path: Path) -> None:
    """While a run trains for longer than STALE_S, its holder's heartbeat keeps others off it."""
    path = store_path(tmp_path)
    holder = Claims(path, heartbeat_s=0.05, stale_s=0.5)
    other = Claims(path, stale_s=0.5)
    other.host = "another host"  # so only the heartbeat can tell that the holder lives
    assert holder.take("run1").granted
    time.sleep(1.0)
    assert not other.take("run1").granted
    holder.close()
    assert other.take("run1") == Claim(True)
