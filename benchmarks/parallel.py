"""Wall time of one study trained three ways: one process (all torch threads), `--workers 2` (one thread
each), and `--executor ray` on a local two-node Ray cluster (one CPU per node and per run).

The study: the quickstart's six optimizer settings × 2 seeds = 12 small runs (its task at `--n` examples,
`--epochs` epochs). Each way is a fresh `trainlab run` process on a fresh store; the Ray cluster is started
before its clock starts (a cluster is started once, not per study). Ray's dispatch overhead per run is the
extra wall time over the local pool, times the two slots, over the runs. Prints one JSON line last.

    python benchmarks/parallel.py [--n 6000] [--epochs 5] [--no-ray]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _timed_run(study: Path, store: Path, *extra: str) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "trainlab.cli", "run", str(study), "--store", str(store), "--quiet", *extra],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"trainlab run {' '.join(extra)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - t0


def _ray_wall(study: Path, store: Path) -> float:
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        return _timed_run(study, store, "--executor", "ray", "--address", cluster.address)
    finally:
        ray.shutdown()
        cluster.shutdown()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=6000, help="examples of the quickstart task")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--no-ray", action="store_true", help="skip the Ray cluster (also skipped when Ray is missing)")
    args = p.parse_args()
    quickstart = yaml.safe_load((ROOT / "studies" / "quickstart.yaml").read_text())
    quickstart["base"]["data"]["n"], quickstart["base"]["train"]["epochs"] = args.n, args.epochs
    quickstart["seeds"] = [0, 1]
    runs = len(quickstart["runs"]) * 2
    with tempfile.TemporaryDirectory() as folder:
        study = Path(folder) / "study.yaml"
        study.write_text(yaml.safe_dump(quickstart))
        sequential = _timed_run(study, Path(folder) / "one")
        pool = _timed_run(study, Path(folder) / "pool", "--workers", "2")
        with_ray = not args.no_ray and importlib.util.find_spec("ray") is not None
        ray_wall = _ray_wall(study, Path(folder) / "ray") if with_ray else None
    result = {
        "benchmark": "parallel",
        "runs": runs,
        "epochs": args.epochs,
        "n": args.n,
        "sequential_wall_s": round(sequential, 2),
        "workers2_wall_s": round(pool, 2),
        "ratio_speedup_workers2": round(sequential / pool, 3),
    }
    if ray_wall is not None:
        result |= {
            "ray_wall_s": round(ray_wall, 2),
            "ratio_speedup_ray": round(sequential / ray_wall, 3),
            "ray_overhead_per_run_s": round((ray_wall - pool) * 2 / runs, 3),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
