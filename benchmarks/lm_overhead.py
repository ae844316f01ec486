"""Tokens/s of trainlab's training loop against a minimal hand-written loop: same GPT, same batches.

Both train the nanoGPT CPU "baby" GPT (4 layers, 4 heads, width 128, block 64, batch 12) on Tiny
Shakespeare from the same initial weights, with AdamW, over the same shuffled batches, in one process,
alternating A/B rounds. trainlab's time includes everything `Loop.run` does (hooks, metric sums, the
end-of-run validation on a one-window split). Prints one JSON line last.

    python benchmarks/lm_overhead.py [--steps 150] [--rounds 3] [--data ../shared/data/tinyshakespeare]
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from dataclasses import replace

import torch
import torch.nn.functional as F
from common import overhead_result  # benchmarks/common.py (scripts run from their folder)

from trainlab.data.text import TinyShakespeareConfig, TokenWindows, load_tinyshakespeare
from trainlab.models.gpt import GPTConfig, build_gpt
from trainlab.optim import SCHEDULES
from trainlab.spec import ScheduleConfig, TrainConfig
from trainlab.train import Loop, seeding
from trainlab.train.hooks import config_hooks
from trainlab.train.tasks import LanguageModeling

BATCH, SEQ = 12, 64


def minimal_loop(model: torch.nn.Module, data: TokenWindows, steps: int, seed: int) -> float:
    """The loop a student writes: forward, loss, zero_grad, backward, step. Returns seconds."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    model.train()
    t0 = time.perf_counter()
    batches = data.batches(BATCH, generator=seeding.generator(seed, "order/1"))
    for _, (x, y) in zip(range(steps), batches):
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def trainlab_loop(model: torch.nn.Module, bundle, steps: int, seed: int) -> float:  # noqa: ANN001
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    cfg = TrainConfig(steps=steps, batch_size=BATCH, seed=seed)
    schedule = SCHEDULES.get("none").build(opt, ScheduleConfig(), steps)
    loop = Loop(model, opt, schedule, bundle, LanguageModeling(bundle.info), cfg, torch.device("cpu"))
    loop.hooks = config_hooks(cfg)
    t0 = time.perf_counter()
    loop.run()
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--data", default="../shared/data/tinyshakespeare")
    args = p.parse_args()
    bundle = load_tinyshakespeare(TinyShakespeareConfig(name="tinyshakespeare", root=args.data, seq_len=SEQ))
    one_window = TokenWindows.from_tokens(bundle.valid.stream[: SEQ + 1], SEQ)
    bundle = replace(bundle, valid=one_window)
    torch.manual_seed(0)
    init = build_gpt(GPTConfig(width=128, heads=4, layers=4, norm="pre"), bundle.info)
    tokens = args.steps * BATCH * SEQ
    ours, theirs = [], []
    for r in range(args.rounds):
        theirs.append(tokens / minimal_loop(copy.deepcopy(init), bundle.train, args.steps, seed=r))
        ours.append(tokens / trainlab_loop(copy.deepcopy(init), bundle, args.steps, seed=r))
    result = overhead_result("lm_overhead", ours, theirs, steps=args.steps, rounds=args.rounds)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
