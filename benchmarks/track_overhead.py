"""What `trainlab.track` costs a training loop: the shakespeare-char GPT's loop written plainly, against the
same loop with `run.log` of 4 metrics (loss, learning rate, gradient norm, tokens seen) every step.

Both train the nanoGPT CPU "baby" GPT (4 layers, 4 heads, width 128, block 64, batch 12) on Tiny Shakespeare
from the same initial weights over the same batches, in one process, alternating A/B rounds (each round a fresh
store, so the tracked side pays for its store's start and its final writes too). The loss is logged as the
tensor the step made: `run.log` keeps it and reads all buffered tensors at once when it writes a batch of rows.
Prints one JSON line last: median seconds of each side and their ratio.

    python benchmarks/track_overhead.py [--steps 300] [--rounds 3] [--data ../shared/data/tinyshakespeare]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F

import trainlab
from trainlab.data.text import TinyShakespeareConfig, TokenWindows, load_tinyshakespeare
from trainlab.models.gpt import GPTConfig, build_gpt
from trainlab.train import seeding

BATCH, SEQ = 12, 64


def train(model: torch.nn.Module, data: TokenWindows, steps: int, seed: int, store: Path | None) -> float:
    """The loop a student writes; with `store`, the three tracking lines too. Returns seconds."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    model.train()
    t0 = time.perf_counter()
    batches = data.batches(BATCH, generator=seeding.generator(seed, "order/1"))
    tracking = trainlab.track("overhead", config={"seed": seed}, store=store) if store else nullcontext()
    with tracking as run:
        for step, (x, y) in zip(range(1, steps + 1), batches):
            logits = model(x)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            if run is not None:
                run.log({"loss": loss, "lr": 1e-3, "grad_norm": norm, "tokens": step * BATCH * SEQ}, step=step)
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--data", default="../shared/data/tinyshakespeare")
    args = p.parse_args()
    bundle = load_tinyshakespeare(TinyShakespeareConfig(name="tinyshakespeare", root=args.data, seq_len=SEQ))
    torch.manual_seed(0)
    init = build_gpt(GPTConfig(width=128, heads=4, layers=4, norm="pre"), bundle.info)
    plain, tracked = [], []
    for r in range(args.rounds):
        plain.append(train(copy.deepcopy(init), bundle.train, args.steps, r, None))
        with tempfile.TemporaryDirectory() as folder:
            tracked.append(train(copy.deepcopy(init), bundle.train, args.steps, r, Path(folder) / "store"))
    result = {
        "benchmark": "track_overhead",
        "plain_s": round(statistics.median(plain), 3),
        "tracked_s": round(statistics.median(tracked), 3),
        "ratio": round(statistics.median(tracked) / statistics.median(plain), 4),
        "plain_rounds_s": [round(s, 3) for s in plain],
        "tracked_rounds_s": [round(s, 3) for s in tracked],
        "steps": args.steps,
        "metrics_per_step": 4,
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
