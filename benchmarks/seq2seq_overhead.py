"""Target tokens/s of trainlab's training loop against a minimal hand-written teacher-forced loop: same
encoder-decoder Transformer, same initial weights, same bucketed batches, Adam, one process, alternating
rounds.

trainlab's time includes everything `Loop.run` does (hooks, metric sums, the end-of-run validation, here
on a one-sentence split, whose greedy decoding alone costs about 0.2 s: over 60 steps it takes the ratio
to 0.91, over 300 steps the per-step overhead shows, 0.976). Data: Pig Latin from the Multi30k
English words (characters), or the same from a generated word list without the data. Prints one JSON
line last.

    python benchmarks/seq2seq_overhead.py [--steps 300] [--rounds 3] [--data ../shared/data/multi30k]
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
from common import overhead_result  # benchmarks/common.py (scripts run from their folder)

from trainlab.data.seq2seq import PairSplit, PigLatinConfig, load_pig_latin
from trainlab.data.tokens import PAD
from trainlab.models.seq2seq import TransformerSeq2SeqConfig, build_transformer_seq2seq
from trainlab.optim import SCHEDULES
from trainlab.spec import ScheduleConfig, TrainConfig
from trainlab.train import Loop, seeding
from trainlab.train.hooks import config_hooks
from trainlab.train.tasks import Translation

BATCH = 64


def minimal_loop(model: torch.nn.Module, data: PairSplit, steps: int, seed: int) -> tuple[float, int]:
    """Forward on (source, target input), cross-entropy on the target output, step. Returns (seconds, tokens)."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    tokens = 0
    t0 = time.perf_counter()
    for _, (x, y) in zip(range(steps), data.batches(BATCH, generator=seeding.generator(seed, "order/1"))):
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=PAD)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        tokens += int((y != PAD).sum())
    return time.perf_counter() - t0, tokens


def trainlab_loop(model: torch.nn.Module, bundle, steps: int, seed: int) -> float:  # noqa: ANN001
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    cfg = TrainConfig(steps=steps, batch_size=BATCH, seed=seed)
    schedule = SCHEDULES.get("none").build(opt, ScheduleConfig(), steps)
    loop = Loop(model, opt, schedule, bundle, Translation(bundle.info, cfg), cfg, torch.device("cpu"))
    loop.hooks = config_hooks(cfg)
    t0 = time.perf_counter()
    loop.run()
    return time.perf_counter() - t0


def load(data: str):  # noqa: ANN201
    if Path(data).exists():
        return load_pig_latin(PigLatinConfig(root=data, size="large"))
    words = Path("/tmp/trainlab-bench-words.txt")
    words.write_text(" ".join(f"{a}{b}{c}{d}" for a in "bcdfgs" for b in "aeiou" for c in "lmnrst" for d in "aeiou"))
    return load_pig_latin(PigLatinConfig(words=str(words), size=20_000))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--data", default="../shared/data/multi30k")
    args = p.parse_args()
    bundle = load(args.data)
    one = PairSplit(bundle.valid.src[:1], bundle.valid.tgt[:1], bundle.valid.src_len[:1], bundle.valid.tgt_len[:1])
    bundle = replace(bundle, valid=one, test=None)
    torch.manual_seed(0)
    cfg = TransformerSeq2SeqConfig(dim=64, heads=4, hidden=256, layers=3, dropout=0.1)
    init = build_transformer_seq2seq(cfg, bundle.info)
    ours, theirs = [], []
    for r in range(args.rounds):
        seconds, tokens = minimal_loop(copy.deepcopy(init), bundle.train, args.steps, seed=r)
        theirs.append(tokens / seconds)
        ours.append(tokens / trainlab_loop(copy.deepcopy(init), bundle, args.steps, seed=r))
    result = overhead_result("seq2seq_overhead", ours, theirs, steps=args.steps, rounds=args.rounds)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
