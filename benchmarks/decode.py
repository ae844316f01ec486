"""Batched greedy decoding with a key/value cache against rerunning the whole decoder at every step (what
most course code does): same model, same sentences, identical outputs asserted.

The model is the CPU preset of studies/aiayn-multi30k.yaml (dim 256, 3 + 3 layers, 8,000 BPE tokens),
at its initial weights: an untrained model rarely emits </s>, so both decoders produce the full
`--tokens` per sentence, which is what the comparison is about. Sources are the first Multi30k test
sentences (German), or random tokens without the data. Alternating rounds; prints one JSON line last.

    python benchmarks/decode.py [--sentences 128] [--tokens 50] [--rounds 3] [--data ../shared/data/multi30k]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from trainlab.data.base import DataInfo
from trainlab.data.seq2seq import PairSplit, multi30k_lines
from trainlab.data.tokens import BPEVocab
from trainlab.models.seq2seq import TransformerSeq2SeqConfig, build_transformer_seq2seq
from trainlab.train.decoding import greedy, greedy_without_cache

VOCAB = 8000


def sources(data: str, n: int) -> torch.Tensor:
    if Path(data).exists():
        train, test = multi30k_lines(data, "train.de"), multi30k_lines(data, "test2016.de")[:n]
        vocab = BPEVocab(train, VOCAB, 2)
        ids = vocab.encode(test)
        return PairSplit.from_ids(ids, ids).src
    return torch.randint(5, VOCAB, (n, 16), generator=torch.Generator().manual_seed(0))


def timed(decode, model: torch.nn.Module, src: torch.Tensor, tokens: int) -> tuple[float, torch.Tensor]:  # noqa: ANN001
    t0 = time.perf_counter()
    out = decode(model, src, tokens)
    return time.perf_counter() - t0, out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sentences", type=int, default=128)
    p.add_argument("--tokens", type=int, default=50)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--data", default="../shared/data/multi30k")
    args = p.parse_args()
    torch.manual_seed(0)
    cfg = TransformerSeq2SeqConfig(dim=256, heads=4, hidden=1024, layers=3, norm="pre", dropout=0.0)
    model = build_transformer_seq2seq(cfg, DataInfo("seq2seq", (64, args.tokens + 2), VOCAB)).eval()
    src = sources(args.data, args.sentences)
    cached, rerun = [], []
    for _ in range(args.rounds):
        seconds, fast = timed(greedy, model, src, args.tokens)
        cached.append(seconds)
        seconds, slow = timed(greedy_without_cache, model, src, args.tokens)
        rerun.append(seconds)
        assert torch.equal(fast, slow), "cached and uncached greedy decoding disagree"
    result = {
        "benchmark": "decode",
        "ratio_cached_vs_rerun": round(statistics.median(rerun) / statistics.median(cached), 3),
        "cached_s": round(statistics.median(cached), 4),
        "rerun_s": round(statistics.median(rerun), 4),
        "sentences": len(src),
        "mean_output_tokens": round(float((fast != 0).sum(1).float().mean()), 1),
        "max_tokens": args.tokens,
        "rounds": args.rounds,
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
