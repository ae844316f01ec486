"""Response times of `trainlab serve` on a large study: 1,000 runs × 2,000 evaluations per metric.

A made-up store (trainlab.store.synthetic; 10 optimizers × 25 learning rates × 4 seeds, four metrics per
round: 8 million rows) is written first. Through the ASGI app in process (FastAPI's test client: server
work, no network): the study page (its HTML and its table of 1,000 runs), a curve of valid accuracy
grouped by optimizer (mean and band per group, downsampled to 500 points) the first time (read from the
store into the server's cache) and again (from the cache, after a run changed), and the curves of five
ticked runs. Targets on 2 cores: study page < 300 ms, grouped curve < 500 ms. Prints one JSON line last.

    python benchmarks/serve.py [--optimizers 10] [--lrs 25] [--seeds 4] [--rounds 2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
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


def main() -> None:
    from fastapi.testclient import TestClient

    from trainlab.serve.app import create_app

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--optimizers", type=int, default=10)
    p.add_argument("--lrs", type=int, default=25)
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--rounds", type=int, default=2000)
    p.add_argument("--repeat", type=int, default=5, help="timed requests of each kind after the first (median)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "store"
        t0 = time.perf_counter()
        runs = sweep(
            [f"opt{i}" for i in range(args.optimizers)], list(np.logspace(-5, 0, args.lrs)), args.seeds, args.rounds
        )
        write_study(Store(root), "scale", runs, metrics=METRICS)
        generate = time.perf_counter() - t0
        client = TestClient(create_app(root))
        table, table_bytes = _ms(client, "/api/study/scale")
        shell = [_ms(client, "/study/scale")[0] + _ms(client, "/api/study/scale")[0] for _ in range(args.repeat)]
        grouped = "/api/study/scale/curves?metric=valid/accuracy&group=optim.name"
        cold, grouped_bytes = _ms(client, grouped)
        warm = [_ms(client, grouped)[0] for _ in range(args.repeat)]
        changed = _one_more_round(root, runs[0].run_id("scale"), args.rounds + 1)
        after_change = _ms(client, grouped)[0]
        ids = ",".join(r.run_id("scale") for r in runs[:5])
        picked = [_ms(client, f"/api/study/scale/curves?metric=valid/loss&runs={ids}")[0] for _ in range(args.repeat)]
        print(
            json.dumps(
                {
                    "benchmark": "serve",
                    "runs": len(runs),
                    "points_per_metric": args.rounds,
                    "generate_store_s": round(generate, 3),
                    "study_page_ms": round(statistics.median(shell), 1),
                    "study_page_first_ms": round(table, 1),
                    "study_table_kb": round(table_bytes / 1024, 1),
                    "grouped_curve_ms": round(statistics.median(warm), 1),
                    "grouped_curve_first_ms": round(cold, 1),
                    "grouped_curve_after_a_round_ms": round(after_change, 1),
                    "changed_run": changed,
                    "grouped_curve_kb": round(grouped_bytes / 1024, 1),
                    "five_runs_curve_ms": round(statistics.median(picked), 1),
                    "target_page_ms": 300,
                    "target_curve_ms": 500,
                }
            )
        )


if __name__ == "__main__":
    main()
