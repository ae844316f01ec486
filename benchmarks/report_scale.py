"""How long `trainlab report` takes on a large sweep, and how large its page is.

A made-up store (trainlab.store.synthetic: the events, rows and facts a trained study writes) of 1,000 runs
× 50 rounds: 10 optimizers × 25 learning rates × 4 seeds. Times writing the whole report (figures, tables,
findings, the HTML page) and reports the page's size and figure count. Targets: under 60 s on 2 cores,
page under 15 MB, plotly embedded once. Prints one JSON line last.

    python benchmarks/report_scale.py [--optimizers 10] [--lrs 25] [--seeds 4] [--rounds 50]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from trainlab.report import standard_sections, write_report
from trainlab.store import Store
from trainlab.store.synthetic import sweep, write_study


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--optimizers", type=int, default=10)
    p.add_argument("--lrs", type=int, default=25)
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--rounds", type=int, default=50)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "store")
        t0 = time.perf_counter()
        lrs = list(np.logspace(-5, 0, args.lrs))
        runs = sweep([f"opt{i}" for i in range(args.optimizers)], lrs, args.seeds, args.rounds)
        write_study(store, "scale", runs)
        generate = time.perf_counter() - t0
        t0 = time.perf_counter()
        page = write_report(store, "scale", Path(folder) / "report", standard_sections)
        seconds = time.perf_counter() - t0
        text = page.read_text(encoding="utf-8")
        print(
            json.dumps(
                {
                    "benchmark": "report_scale",
                    "runs": len(runs),
                    "rounds": args.rounds,
                    "report_s": round(seconds, 2),
                    "generate_store_s": round(generate, 2),
                    "html_mb": round(page.stat().st_size / 2**20, 2),
                    "figures": text.count("<figure>"),
                    "plotly_copies": text.count("plotly.js v"),
                    "target_s": 60,
                    "target_mb": 15,
                }
            )
        )


if __name__ == "__main__":
    main()
