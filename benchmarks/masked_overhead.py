"""Seconds per training step of a pruned network (80 % of the weights at zero, kept there after every
step) against the same dense network: trainlab's Loop both times, same batches, alternating rounds.

LeNet-300-100 on MNIST (batch 60, Adam, as the lottery-ticket preset) or, with `--model vit`, the
Fashion-MNIST ViT; random images of the same shape without the data. Prints one JSON line last.

    python benchmarks/masked_overhead.py [--steps 400] [--rounds 3] [--model lenet|vit] [--data ../shared/data/mnist]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from pathlib import Path

import torch

from trainlab.data.base import DataBundle, DataInfo, TensorSplit
from trainlab.data.images import ImageConfig, load_mnist
from trainlab.models import MODELS
from trainlab.optim import SCHEDULES
from trainlab.spec import ScheduleConfig, TrainConfig
from trainlab.studies.lottery.pruning import KeepPruned, apply, magnitude_mask, prunable
from trainlab.studies.lottery.section import PruneSpec
from trainlab.train import Loop
from trainlab.train.hooks import config_hooks
from trainlab.train.tasks import Classification

BATCH = 60


def data(root: str, steps: int) -> DataBundle:
    if Path(root).exists():
        bundle = load_mnist(ImageConfig(name="mnist", root=root, max_train=BATCH * steps))
    else:
        g = torch.Generator().manual_seed(0)
        x, y = (
            torch.randint(0, 256, (BATCH * steps, 1, 28, 28), generator=g, dtype=torch.uint8),
            torch.randint(0, 10, (BATCH * steps,), generator=g),
        )
        split = TensorSplit(x, y, transform=lambda b: b.float() / 255)
        bundle = DataBundle(DataInfo("classification", (1, 28, 28), 10), split, split)
    one = TensorSplit(bundle.valid.x[:1], bundle.valid.y[:1], bundle.valid.transform)
    return DataBundle(bundle.info, bundle.train, one)


def seconds_per_step(model: torch.nn.Module, bundle: DataBundle, steps: int, masked: bool) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1.2e-3)
    cfg = TrainConfig(steps=steps, batch_size=BATCH)
    loop = Loop(
        model,
        opt,
        SCHEDULES.get("none").build(opt, ScheduleConfig(), steps),
        bundle,
        Classification(bundle.info),
        cfg,
        torch.device("cpu"),
    )
    loop.hooks = config_hooks(cfg)
    if masked:
        mask = magnitude_mask({n: p.detach() for n, p in prunable(model).items()}, None, PruneSpec(amount=0.8))
        apply(model, mask)
        loop.hooks.insert(0, KeepPruned(model, mask))
    t0 = time.perf_counter()
    loop.run()
    return (time.perf_counter() - t0) / steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--model", choices=["lenet", "vit"], default="lenet")
    p.add_argument("--data", default="../shared/data/mnist")
    args = p.parse_args()
    bundle = data(args.data, args.steps)
    name = "lenet_300_100" if args.model == "lenet" else "vit"
    entry = MODELS.get(name)
    options = {} if name == "lenet_300_100" else {"embed_dim": 64, "hidden_dim": 128, "heads": 4, "layers": 2}
    torch.manual_seed(0)
    init = entry.build(entry.config(name=name, **options), bundle.info)
    dense, masked = [], []
    for _ in range(args.rounds):
        dense.append(seconds_per_step(copy.deepcopy(init), bundle, args.steps, masked=False))
        masked.append(seconds_per_step(copy.deepcopy(init), bundle, args.steps, masked=True))
    result = {
        "benchmark": "masked_overhead",
        "ratio_masked_vs_dense_step": round(statistics.median(masked) / statistics.median(dense), 3),
        "dense_ms_per_step": round(1000 * statistics.median(dense), 3),
        "masked_ms_per_step": round(1000 * statistics.median(masked), 3),
        "model": name,
        "steps": args.steps,
        "rounds": args.rounds,
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
