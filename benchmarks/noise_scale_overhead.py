"""What measuring the gradient noise scale costs per training step, at the default interval.

The nanoGPT CPU "baby" GPT on Tiny Shakespeare (as benchmarks/lm_overhead.py) trained by trainlab's loop
with `train.gradient_noise_scale` off and on (every `noise_scale_every` = 10 steps by default: one extra
forward/backward on half a batch), same initial weights and batches, alternating rounds in one process.
Target: at most 10 % slower. Prints one JSON line last.

    python benchmarks/noise_scale_overhead.py [--steps 200] [--rounds 3] [--every 10]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from dataclasses import replace

import torch

from trainlab.data.text import TinyShakespeareConfig, TokenWindows, load_tinyshakespeare
from trainlab.models.gpt import GPTConfig, build_gpt
from trainlab.optim import SCHEDULES
from trainlab.spec import ScheduleConfig, TrainConfig
from trainlab.train import Loop
from trainlab.train.hooks import config_hooks
from trainlab.train.tasks import LanguageModeling

BATCH, SEQ = 12, 64


def seconds_per_step(model: torch.nn.Module, bundle, cfg: TrainConfig) -> float:  # noqa: ANN001
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    schedule = SCHEDULES.get("none").build(opt, ScheduleConfig(), cfg.steps)
    loop = Loop(model, opt, schedule, bundle, LanguageModeling(bundle.info), cfg, torch.device("cpu"))
    loop.hooks = config_hooks(cfg)
    t0 = time.perf_counter()
    loop.run()
    return (time.perf_counter() - t0) / cfg.steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--every", type=int, default=TrainConfig().noise_scale_every)
    p.add_argument("--data", default="../shared/data/tinyshakespeare")
    args = p.parse_args()
    bundle = load_tinyshakespeare(TinyShakespeareConfig(name="tinyshakespeare", root=args.data, seq_len=SEQ))
    bundle = replace(
        bundle, valid=TokenWindows.from_tokens(bundle.valid.stream[: SEQ + 1], SEQ)
    )  # evaluation: one window
    torch.manual_seed(0)
    init = build_gpt(GPTConfig(width=128, heads=4, layers=4, norm="pre"), bundle.info)
    plain = TrainConfig(steps=args.steps, batch_size=BATCH, clip_grad_norm=1.0)
    measured = plain.model_copy(update={"gradient_noise_scale": True, "noise_scale_every": args.every})
    off, on = [], []
    for _ in range(args.rounds):
        off.append(seconds_per_step(copy.deepcopy(init), bundle, plain))
        on.append(seconds_per_step(copy.deepcopy(init), bundle, measured))
    result = {
        "benchmark": "noise_scale_overhead",
        "every": args.every,
        "steps": args.steps,
        "plain_ms_per_step": round(1000 * statistics.median(off), 2),
        "measured_ms_per_step": round(1000 * statistics.median(on), 2),
        "ratio_measured_vs_plain": round(statistics.median(on) / statistics.median(off), 3),
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
