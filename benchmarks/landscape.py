"""2D loss surface: trainlab.weightspace against the `loss-landscapes` library (PyPI 3.0.6), one process.

Same model (MLP 784-256-10, 203,530 parameters), same data (the first 1,797 MNIST test images, the size
of the scikit-learn digits set), same two filter-normalised direction tensors, same 25×25 grid of
steps. The library's `planar_interpolation` walks the grid in a zig-zag whose even columns are offset
by one step (see ../shared/notes/baselines.md), so values are compared on the 600 coordinates both
grids share. Needs `pip install loss-landscapes==3.0.6` (the `bench` extra). Prints one JSON line last.

    python benchmarks/landscape.py [--steps 25] [--rounds 3] [--data ../shared/data/mnist]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from loss_landscapes.main import planar_interpolation
from loss_landscapes.metrics import Loss

from trainlab.data.images import ImageConfig, load_mnist
from trainlab.models.mlp import MLPConfig, build_mlp
from trainlab.weightspace import random_direction, surface


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=25)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--data", default="../shared/data/mnist")
    args = p.parse_args()
    data = load_mnist(ImageConfig(name="mnist", root=args.data))
    x, y = next(data.test.batches(1797))
    torch.manual_seed(0)
    model = build_mlp(MLPConfig(name="mlp", hidden=(256,)), data.info).eval()
    g = torch.Generator().manual_seed(0)
    d1, d2 = (random_direction(model, "filter", generator=g) for _ in range(2))
    n = args.steps
    step1, step2 = ({k: v / n for k, v in d.items()} for d in (d1, d2))

    def ours() -> np.ndarray:
        evaluate = lambda m: {"loss": float(F.cross_entropy(m(x), y))}  # noqa: E731 - same work as theirs
        with torch.no_grad():
            return surface(model, evaluate, [step1, step2], range(n), range(n)).values["loss"]  # [y, x]

    def theirs() -> tuple[np.ndarray, float]:
        start = copy.deepcopy(model)
        ends = [copy.deepcopy(model), copy.deepcopy(model)]
        with torch.no_grad():
            for end, d in zip(ends, (d1, d2)):
                for name, param in end.named_parameters():
                    param.add_(d[name])
        t0 = time.perf_counter()
        values = planar_interpolation(start, *ends, Loss(F.cross_entropy, x, y), steps=n, deepcopy_model=False)
        return values, time.perf_counter() - t0  # [x, y'] with the library's offsets

    ours_s, theirs_s = [], []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        mine = ours()
        ours_s.append(time.perf_counter() - t0)
        lib, seconds = theirs()
        theirs_s.append(seconds)
    # library column i holds coordinates (i, j + 1) for even i and (i, j) for odd i
    pairs = [(mine[j + 1, i], lib[i, j]) for i in range(0, n, 2) for j in range(n - 1)]
    pairs += [(mine[j, i], lib[i, j]) for i in range(1, n, 2) for j in range(n)]
    a, b = np.array(pairs).T
    print(
        json.dumps(
            {
                "benchmark": "landscape",
                "ratio_vs_loss_landscapes": round(statistics.median(theirs_s) / statistics.median(ours_s), 3),
                "trainlab_s": round(statistics.median(ours_s), 3),
                "baseline_s": round(statistics.median(theirs_s), 3),
                "grid": f"{n}x{n}",
                "points_compared": len(pairs),
                "max_relative_difference": float(np.max(np.abs(a - b) / np.abs(b))),
                "device": "cpu",
                "threads": torch.get_num_threads(),
            }
        )
    )


if __name__ == "__main__":
    main()
