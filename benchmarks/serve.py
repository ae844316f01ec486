"""The store and `trainlab serve` at scale: 1,000 runs × 2,000 evaluations per metric, then 10,000 runs × 500.

A made-up store (trainlab.store.synthetic; 10 optimizers × 25 learning rates × 4 seeds, four metrics per
round: 8 million values) is written first (`write_s`; its file size per value: `bytes_per_value`). Through
the ASGI app in process (FastAPI's test client: server work, no network): a curve of valid accuracy grouped
by optimizer on a fresh server (`cold_read_s`: every run's series read from the store), the same again
(`warm_group_s`, from the server's cache), after a run changed, the study page, and the curves of five ticked
runs. Then a store of 10,000 runs × 500 rounds (`--big-runs`, `--big-rounds`) is written and a fresh server
process reads the grouped curve once (`cold_read_10k_s`) and reports its peak memory (`rss_10k_mb`).
Targets (issue 27, on 2 cores): bytes_per_value <= 30, cold_read_s <= 1, warm_group_s <= 0.2,
cold_read_10k_s <= 3, rss_10k_mb <= 2048. Prints one JSON line last.

    python benchmarks/serve.py [--optimizers 10] [--lrs 25] [--seeds 4] [--rounds 2000] [--repeat 5]
                               [--big-runs 10000] [--big-rounds 500]
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from trainlab.store import Store
from trainlab.store.synthetic import sweep, write_study

METRICS = {("train", "loss"), ("train", "lr"), ("valid", "loss"), ("valid", "accuracy")}


def _ms(client, url: str) -> tuple[float, int]:  # noqa: ANN001
    t0 = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - t0) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url}: {response.status_code} {response.text[:300]}")
    return elapsed, len(response.content)


def _one_more_round(root: Path, run_id: str, epoch: int) -> str:
    """A run records one more evaluation, as a training run does while the page is open."""
    from trainlab.store import StoreWriter
    from trainlab.store.events import EpochEnded

    store = Store(root)
    StoreWriter(store)(
        EpochEnded(run_id, ((epoch * 100, epoch, "valid", "accuracy", 0.5, 2.0 * epoch),), {"epochs_done": epoch})
    )
    store.close()
    return run_id


GROUPED = "/api/study/scale/curves?metric=valid/accuracy&group=optim.name"


def _write(root: Path, optimizers: int, lrs: int, seeds: int, rounds: int) -> tuple[list, float, float]:
    """The made-up sweep written through the store writer: its runs, seconds, and file bytes per value."""
    runs = sweep([f"opt{i}" for i in range(optimizers)], list(np.logspace(-5, 0, lrs)), seeds, rounds)
    t0 = time.perf_counter()
    store = Store(root)
    write_study(store, "scale", runs, metrics=METRICS)
    store.close()
    seconds = time.perf_counter() - t0
    with sqlite3.connect(root / "store.sqlite") as db:  # fold the write-ahead log into the file before sizing it
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    values = len(runs) * (rounds * len(METRICS) + 1)  # + each run's test value
    return runs, seconds, (root / "store.sqlite").stat().st_size / values


def _cold_read(root: str) -> None:
    """In a fresh process (`--cold-read ROOT`): a new server reads the grouped curve once; prints seconds and
    this process's peak memory."""
    from fastapi.testclient import TestClient

    from trainlab.serve.app import create_app

    client = TestClient(create_app(Path(root)))
    seconds = _ms(client, GROUPED)[0] / 1000
    print(json.dumps({"seconds": seconds, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    from fastapi.testclient import TestClient

    from trainlab.serve.app import create_app

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--optimizers", type=int, default=10)
    p.add_argument("--lrs", type=int, default=25)
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--rounds", type=int, default=2000)
    p.add_argument("--repeat", type=int, default=5, help="timed requests of each kind after the first (median)")
    p.add_argument("--big-runs", type=int, default=10_000, help="runs of the second store (10 optimizers, 4 seeds)")
    p.add_argument("--big-rounds", type=int, default=500)
    p.add_argument("--cold-read", help=argparse.SUPPRESS)  # the child process's part
    args = p.parse_args()
    if args.cold_read:
        _cold_read(args.cold_read)
        return
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "store"
        runs, write_s, bytes_per_value = _write(root, args.optimizers, args.lrs, args.seeds, args.rounds)
        client = TestClient(create_app(root))
        cold, grouped_bytes = _ms(client, GROUPED)
        warm = [_ms(client, GROUPED)[0] for _ in range(args.repeat)]
        changed = _one_more_round(root, runs[0].run_id("scale"), args.rounds + 1)
        after_change = _ms(client, GROUPED)[0]
        table, table_bytes = _ms(client, "/api/study/scale")
        shell = [_ms(client, "/study/scale")[0] + _ms(client, "/api/study/scale")[0] for _ in range(args.repeat)]
        ids = ",".join(r.run_id("scale") for r in runs[:5])
        picked = [_ms(client, f"/api/study/scale/curves?metric=valid/loss&runs={ids}")[0] for _ in range(args.repeat)]
    with tempfile.TemporaryDirectory() as folder:
        big = Path(folder) / "store"
        lrs = max(1, args.big_runs // (args.optimizers * args.seeds))
        big_runs, big_write_s, big_bytes = _write(big, args.optimizers, lrs, args.seeds, args.big_rounds)
        child = subprocess.run(
            [sys.executable, __file__, "--cold-read", str(big)], capture_output=True, text=True, check=True
        )
        big_read = json.loads(child.stdout.strip().splitlines()[-1])
    print(
        json.dumps(
            {
                "benchmark": "serve",
                "runs": len(runs),
                "points_per_metric": args.rounds,
                "bytes_per_value": round(bytes_per_value, 2),
                "write_s": round(write_s, 2),
                "cold_read_s": round(cold / 1000, 3),
                "warm_group_s": round(statistics.median(warm) / 1000, 4),
                "runs_10k": len(big_runs),
                "points_per_metric_10k": args.big_rounds,
                "write_10k_s": round(big_write_s, 2),
                "bytes_per_value_10k": round(big_bytes, 2),
                "cold_read_10k_s": round(big_read["seconds"], 3),
                "rss_10k_mb": round(big_read["rss_mb"], 1),
                "grouped_curve_after_a_round_ms": round(after_change, 1),
                "changed_run": changed,
                "grouped_curve_kb": round(grouped_bytes / 1024, 1),
                "study_page_ms": round(statistics.median(shell), 1),
                "study_page_first_ms": round(table, 1),
                "study_table_kb": round(table_bytes / 1024, 1),
                "five_runs_curve_ms": round(statistics.median(picked), 1),
                "targets": {
                    "bytes_per_value": 30,
                    "cold_read_s": 1,
                    "warm_group_s": 0.2,
                    "cold_read_10k_s": 3,
                    "rss_10k_mb": 2048,
                },
            }
        )
    )


if __name__ == "__main__":
    main()
