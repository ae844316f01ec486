"""Would packing speed up the POSTECH study (studies/postech-pruned-transformer.yaml)? A forward and backward
step of its Transformer (dim 256, 4 heads, feed-forward 1024, 3 + 3 layers, 8,000 tokens, batch 128) for N
members: packed (trainlab.train.packed.packed_step: vmap over the stacked weights, the batch shared) against
the same step of each member alone, in one invocation.

    python benchmarks/pack_transformer.py                       # 2 members, fp32
    python benchmarks/pack_transformer.py --members 4 --tokens 24

Prints one JSON line last: alone_s, packed_s (seconds of a step of all members) and ratio (alone / packed:
above 1 means packing is faster). The study trains in bf16; this CPU has no native bf16 (emulated, a step
takes minutes), so the figure is fp32.
"""

from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F
from common import best_seconds  # benchmarks/common.py (scripts run from their folder)
from torch.func import stack_module_state

from trainlab.hardware import freed_memory_kept
from trainlab.models.seq2seq import TransformerSeq2Seq, TransformerSeq2SeqConfig
from trainlab.train.packed import packed_step

STUDY_MODEL = {"dim": 256, "heads": 4, "hidden": 1024, "layers": 3, "dropout": 0.1, "norm": "pre"}
VOCAB, BATCH, LABEL_SMOOTHING = 8000, 128, 0.1


def loss_fn(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.flatten(0, 1), target.flatten(), label_smoothing=LABEL_SMOOTHING)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--members", type=int, default=2)
    p.add_argument("--tokens", type=int, default=16, help="source length; the target is one longer")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--small", action="store_true", help="a 1-layer, width-32 model: that the script runs")
    args = p.parse_args()
    shape = {**STUDY_MODEL, "dim": 32, "hidden": 64, "layers": 1} if args.small else STUDY_MODEL
    cfg = TransformerSeq2SeqConfig(**shape)
    torch.manual_seed(0)
    models = [TransformerSeq2Seq(vocab=VOCAB, max_len=64, cfg=cfg) for _ in range(args.members)]
    src = torch.randint(4, VOCAB, (BATCH, args.tokens))
    tgt = torch.randint(4, VOCAB, (BATCH, args.tokens + 1))
    inputs, targets = (src, tgt[:, :-1]), tgt[:, 1:]

    def alone() -> None:
        for model in models:
            loss_fn(model(inputs), targets).backward()

    params, buffers = stack_module_state(models)
    params = {n: t.detach().requires_grad_() for n, t in params.items()}
    step = packed_step(models[0], loss_fn, lambda out, y, loss: loss.unsqueeze(0))
    shared = tuple(t.expand(args.members, *t.shape) for t in inputs)

    def packed() -> None:
        step(params, buffers, shared, targets.expand(args.members, *targets.shape))

    with freed_memory_kept(torch.device("cpu")):  # as trainlab trains a round on a CPU, alone or packed
        alone_s, packed_s = best_seconds(alone, args.rounds), best_seconds(packed, args.rounds)
    print(
        json.dumps(
            {
                "benchmark": "pack_transformer",
                "members": args.members,
                "parameters_per_member": sum(t.numel() for t in models[0].parameters()),
                "alone_s": round(alone_s, 4),
                "packed_s": round(packed_s, 4),
                "ratio": round(alone_s / packed_s, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
