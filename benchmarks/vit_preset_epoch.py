"""Seconds per epoch of `studies/ift6135-2022-vit.yaml` experiment 1 at full CIFAR-10 size.

The preset's resolved config (2-layer pre-norm ViT, AdamW, batch 128, flips + resized crops) with its
45,000 / 5,000 split, on random uint8 images of CIFAR-10's shape: speed does not depend on the pixels,
and CIFAR-10 is not on every machine. One epoch in float32, one under bf16 autocast
(`train.precision: bf16`); the course's seeds report about 8 s per epoch on a student GPU.

    python benchmarks/vit_preset_epoch.py [--device cuda] [--images 50000]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from trainlab.api import planned_runs
from trainlab.data.cifar import MEAN, STD
from trainlab.data.images import CLASS_NAMES, image_bundle
from trainlab.store.manifest import device_facts
from trainlab.studies.catalog import load_study
from trainlab.train import Hook, Loop, Row
from trainlab.train.build import build_parts, resolve_device
from trainlab.train.hooks import config_hooks

PRESET = Path(__file__).resolve().parents[1] / "studies" / "ift6135-2022-vit.yaml"


class EpochSeconds(Hook):
    """Keeps the loop's own (device-synchronised) train and valid seconds of each epoch."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def on_epoch_end(self, loop: Loop, rows: list[Row], improved: bool) -> None:
        self.seconds.update({row.split: row.value for row in rows if row.name == "seconds"})


def one_epoch(precision: str, images: int, valid: int, device: torch.device) -> dict[str, float]:
    sets = {"train.epochs": 1, "train.precision": precision, "data.valid_size": valid}
    (run,) = planned_runs(load_study(PRESET), sets, only=[1])
    config = run.config
    g = torch.Generator().manual_seed(0)
    train = torch.randint(0, 256, (images, 3, 32, 32), dtype=torch.uint8, generator=g), torch.randint(0, 10, (images,))
    test = train[0][:128], train[1][:128]  # the test set is not evaluated here
    bundle = image_bundle(config.data, train, test, MEAN, STD, CLASS_NAMES["cifar10"]).to(device)
    torch.manual_seed(0)
    parts = build_parts(config, bundle, device)
    loop = Loop(parts.model, parts.optimizer, parts.schedule, bundle, parts.task, config.train, device)
    timer = EpochSeconds()
    loop.hooks = [*config_hooks(config.train), timer]
    loop.run()
    return {"train_s": round(timer.seconds["train"], 2), "valid_s": round(timer.seconds["valid"], 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    p.add_argument("--images", type=int, default=50_000, help="training-set size before the validation images")
    p.add_argument(
        "--valid-size", type=int, default=5000, help="validation images taken from them (the preset's 5,000)"
    )
    p.add_argument(
        "--precisions",
        nargs="+",
        choices=("fp32", "bf16"),
        default=["fp32", "bf16"],
        help="fp32 alone skips bf16, which is emulated (minutes) on CPUs without native bf16",
    )
    args = p.parse_args()
    device = resolve_device(args.device)
    result = {precision: one_epoch(precision, args.images, args.valid_size, device) for precision in args.precisions}
    print(
        json.dumps(
            {
                "benchmark": "vit_preset_epoch",
                **{f"{precision}_train_s_per_epoch": seconds["train_s"] for precision, seconds in result.items()},
                **{f"{precision}_valid_s": seconds["valid_s"] for precision, seconds in result.items()},
                "train_images": args.images - args.valid_size,
                **device_facts(device),
            }
        )
    )


if __name__ == "__main__":
    main()
