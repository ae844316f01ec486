"""Training images/s: trainlab's ViT and data path against a course-style implementation.

Course style (as in the IFT6135 2022 starter code, which used torchvision transforms on PIL images): a
Dataset returning one image at a time (PIL random flip and random resized crop, scale 0.8-1, ratio
0.9-1.1, to tensor, normalise), a DataLoader collating them, patches cut with `unfold` every batch,
attention with an explicit softmax. trainlab: images stay one uint8 tensor, batches are gathered by
index, flipped, crop-resized and normalised as a batch, patches by one reshape, fused attention (explicit
in bf16 on CPU for short sequences, where that is faster). Same ViT size (the course
config: patch 4, embed 256, MLP 512, 8 heads, 2 layers), same real images (Fashion-MNIST), same
optimizer, one process, alternating rounds.

Each side runs in float32 and under bfloat16 autocast (`train.precision: bf16` for trainlab), so the
JSON separates what the data path and model code buy (same precision) from what bf16 buys; the
headline ratio is trainlab in bf16 against the course code as written (float32). bf16 only pays on
CPUs with native bf16 (AVX-512 BF16 or AMX); `native_bf16` says whether this one has it.
Prints one JSON line last.

    python benchmarks/vision_throughput.py [--images 6400] [--rounds 3] [--device cuda]
                                           [--data ../shared/data/fashion-mnist]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import time
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torch import nn
from torch.utils.data import DataLoader, Dataset

from trainlab.data.base import TensorSplit
from trainlab.data.images import ImageConfig, load_fashion_mnist
from trainlab.models.vit import ViTConfig, build_vit
from trainlab.optim import SCHEDULES
from trainlab.spec import ScheduleConfig, TrainConfig
from trainlab.store.manifest import device_facts
from trainlab.train import Loop
from trainlab.train.hooks import config_hooks
from trainlab.train.tasks import Classification

BATCH = 128
PRECISIONS = ("fp32", "bf16")  # the course code as written runs in fp32: the headline's reference
VIT = ViTConfig(patch=4, embed_dim=256, hidden_dim=512, heads=8, layers=2)


class ImageDataset(Dataset):
    """One PIL image at a time, transformed as torchvision's RandomHorizontalFlip, RandomResizedCrop,
    ToTensor and Normalize would (written out: torchvision has no CPU build here)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, mean: float, std: float) -> None:
        self.images = [Image.fromarray(img[0].numpy()) for img in images]
        self.labels, self.mean, self.std = labels, mean, std

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        img = self.images[i]
        if random.random() < 0.5:
            img = ImageOps.mirror(img)
        W, H = img.size
        area = random.uniform(0.8, 1.0) * W * H
        aspect = math.exp(random.uniform(math.log(0.9), math.log(1.1)))
        w, h = min(W, round(math.sqrt(area * aspect))), min(H, round(math.sqrt(area / aspect)))
        left, top = random.randint(0, W - w), random.randint(0, H - h)
        img = img.resize((W, H), Image.BILINEAR, box=(left, top, left + w, top + h))
        x = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).float().div(255).unsqueeze(0)
        return (x - self.mean) / self.std, self.labels[i]


class CourseAttention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        split = lambda t: t.view(B, T, self.heads, C // self.heads).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(C // self.heads), dim=-1)
        return self.o((weights @ v).transpose(1, 2).reshape(B, T, C))


class CourseBlock(nn.Module):
    def __init__(self, dim: int, hidden: int, heads: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = CourseAttention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class CourseViT(nn.Module):
    def __init__(self, channels: int, size: int, classes: int, cfg: ViTConfig) -> None:
        super().__init__()
        self.patch = cfg.patch
        n = (size // cfg.patch) ** 2
        self.embed = nn.Linear(channels * cfg.patch**2, cfg.embed_dim)
        self.cls = nn.Parameter(torch.randn(1, 1, cfg.embed_dim))
        self.pos = nn.Parameter(torch.randn(1, n + 1, cfg.embed_dim))
        self.blocks = nn.Sequential(*(CourseBlock(cfg.embed_dim, cfg.hidden_dim, cfg.heads) for _ in range(cfg.layers)))
        self.head = nn.Sequential(nn.LayerNorm(cfg.embed_dim), nn.Linear(cfg.embed_dim, classes))

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        B, C, _, _ = img.shape
        P = self.patch
        patches = img.unfold(2, P, P).unfold(3, P, P)  # (B, C, h, w, P, P)
        patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(B, -1, C * P * P)
        x = torch.cat([self.cls.expand(B, -1, -1), self.embed(patches)], dim=1) + self.pos
        return self.head(self.blocks(x)[:, 0])


def course_epoch(split: TensorSplit, mean: float, std: float, precision: str, device: torch.device) -> float:
    torch.manual_seed(0)
    model = CourseViT(1, 28, 10, VIT).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    loader = DataLoader(ImageDataset(split.x, split.y, mean, std), batch_size=BATCH, shuffle=True)
    t0 = time.perf_counter()
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    loss.item()  # waits for the device's queued work
    return len(split) / (time.perf_counter() - t0)


def trainlab_epoch(bundle, seed: int, precision: str, device: torch.device) -> float:  # noqa: ANN001
    torch.manual_seed(0)
    model = build_vit(VIT, bundle.info).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    cfg = TrainConfig(epochs=1, batch_size=BATCH, seed=seed, eval_batch_size=1000, precision=precision)
    schedule = SCHEDULES.get("none").build(opt, ScheduleConfig(), 1)
    loop = Loop(model, opt, schedule, bundle, Classification(bundle.info), cfg, device)
    loop.hooks = config_hooks(cfg)
    t0 = time.perf_counter()
    loop.run()  # includes the end-of-epoch validation on a tiny split (128 images), which synchronises
    return len(bundle.train) / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=6400)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--data", default="../shared/data/fashion-mnist")
    p.add_argument("--device", default="cpu", help="cpu or cuda (the course side loads on the CPU, as it did)")
    p.add_argument(
        "--precisions",
        nargs="+",
        choices=PRECISIONS,
        default=list(PRECISIONS),
        help="fp32 alone skips bf16, which is emulated (minutes) on CPUs without native bf16",
    )
    args = p.parse_args()
    if "fp32" not in args.precisions:
        p.error("--precisions must include fp32 (the course code's precision, the reference of every ratio)")
    device = torch.device(args.device)
    cfg = ImageConfig(name="fashion_mnist", root=args.data, augment=("hflip", "resized_crop"), max_train=args.images)
    bundle = load_fashion_mnist(cfg)
    small_valid = TensorSplit(bundle.valid.x[:BATCH], bundle.valid.y[:BATCH], bundle.valid.transform)
    bundle = replace(bundle, valid=small_valid)
    on_device = bundle.to(device)
    speeds: dict[tuple[str, str], list[float]] = {}
    for r in range(args.rounds):
        for precision in args.precisions:
            speeds.setdefault(("course", precision), []).append(
                course_epoch(bundle.train, 0.2860, 0.3530, precision, device)
            )
            speeds.setdefault(("trainlab", precision), []).append(trainlab_epoch(on_device, r, precision, device))
    median = {key: statistics.median(values) for key, values in speeds.items()}
    print(
        json.dumps(
            {
                "benchmark": "vision_throughput",
                # trainlab at its fastest measured precision (bf16 when measured) against the course code as written
                "ratio_vs_course_style": round(median["trainlab", args.precisions[-1]] / median["course", "fp32"], 3),
                **{
                    f"ratio_same_precision_{precision}": round(
                        median["trainlab", precision] / median["course", precision], 3
                    )
                    for precision in args.precisions
                },
                **{f"{who}_{precision}_images_per_s": round(v, 1) for (who, precision), v in median.items()},
                "images": len(bundle.train),
                "rounds": args.rounds,
                **device_facts(device),
            }
        )
    )


if __name__ == "__main__":
    main()
