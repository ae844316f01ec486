"""The whole `trainlab run studies/shakespeare-char.yaml` against a minimal nanoGPT-style script, side by side.

The script is what a student writes after reading nanoGPT (Karpathy): the same baby GPT (4 layers, 4 heads,
width 128, block 64, batch 12, 2,000 iterations, fp32, AdamW lr 1e-3 with 100 warmup steps and cosine decay
to 1e-4, beta2 0.99, gradient clipping 1.0), one fused QKV projection, no biases, weight decay 0.1 on
matrices only, batches of random offsets into the token array, and an estimate of the validation loss every
250 steps on `eval_iters` = 20 random batches. Both run as fresh processes (imports and data loading
included) on the same token streams (trainlab's split of Tiny Shakespeare); each one's final weights are
scored afterwards, outside the timed processes, on the whole validation split by the same function
(trainlab's stored value, on its fixed sample of 20 x 12 validation windows, is printed too). With
--vary-seed, round r seeds both sides with r (trainlab's `train.seed`, the script's `torch.manual_seed`), so
the losses come with their spread over seeds; without it every round is seed 0. Prints one JSON line last:
median wall times, median seconds of training steps alone (start-up, evaluation and saving left out:
trainlab's from its store, the script's from its own clock), mean losses.

    python benchmarks/lm_peer.py [--steps 2000] [--rounds 3] [--vary-seed] [--set KEY=VALUE]
                                 [--data ../shared/data/tinyshakespeare]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

BLOCK, BATCH, WIDTH, HEADS, LAYERS = 64, 12, 128, 4, 4
LR, MIN_LR, WARMUP, EVAL_EVERY, EVAL_ITERS = 1e-3, 1e-4, 100, 250, 20
ROOT = Path(__file__).resolve().parent.parent
STUDY = "studies/shakespeare-char.yaml"


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(WIDTH, bias=False), nn.LayerNorm(WIDTH, bias=False)
        self.qkv = nn.Linear(WIDTH, 3 * WIDTH, bias=False)
        self.proj = nn.Linear(WIDTH, WIDTH, bias=False)
        self.mlp = nn.Sequential(
            nn.Linear(WIDTH, 4 * WIDTH, bias=False), nn.GELU(), nn.Linear(4 * WIDTH, WIDTH, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, HEADS, C // HEADS).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
        x = x + self.proj(y)
        return x + self.mlp(self.ln2(x))


class TinyGPT(nn.Module):
    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, WIDTH), nn.Embedding(BLOCK, WIDTH)
        self.blocks = nn.Sequential(*(Block() for _ in range(LAYERS)))
        self.ln = nn.LayerNorm(WIDTH, bias=False)
        self.head = nn.Linear(WIDTH, vocab, bias=False)
        self.head.weight = self.tok.weight  # tied
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1]))
        return self.head(self.ln(self.blocks(x)))


def _batch(data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    ix = torch.randint(len(data) - BLOCK - 1, (BATCH,))
    x = torch.stack([data[i : i + BLOCK] for i in ix])
    return x, torch.stack([data[i + 1 : i + 1 + BLOCK] for i in ix])


def _lr(it: int, steps: int) -> float:
    if it < WARMUP:
        return LR * (it + 1) / (WARMUP + 1)
    ratio = (it - WARMUP) / (steps - WARMUP)
    return MIN_LR + 0.5 * (1 + math.cos(math.pi * ratio)) * (LR - MIN_LR)


def _loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    logits = model(x)
    return F.cross_entropy(logits.view(-1, logits.shape[-1]), y.reshape(-1), ignore_index=0)


@torch.no_grad()
def _full_valid_loss(model: nn.Module, valid: torch.Tensor) -> float:
    """Mean loss over every non-overlapping window of the validation split (as trainlab evaluates it)."""
    model.eval()
    windows = valid.unfold(0, BLOCK + 1, BLOCK)
    total = count = 0.0
    for chunk in windows.split(256):
        logits = model(chunk[:, :-1])
        y = chunk[:, 1:]
        total += F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=0, reduction="sum"
        ).item()
        count += (y != 0).sum().item()
    return total / count


def script(steps: int, data_root: str, weights: Path, seed: int) -> None:
    """The nanoGPT-style run, timed by the caller as a whole process; saves its final weights to `weights`."""
    from trainlab.data.text import TinyShakespeareConfig, load_tinyshakespeare

    bundle = load_tinyshakespeare(TinyShakespeareConfig(name="tinyshakespeare", root=data_root, seq_len=BLOCK))
    train, valid = bundle.train.stream, bundle.valid.stream
    torch.manual_seed(seed)
    model = TinyGPT(bundle.info.num_classes)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=LR, betas=(0.9, 0.99)
    )
    train_s, tick = 0.0, time.perf_counter()
    for it in range(1, steps + 1):
        for group in opt.param_groups:
            group["lr"] = _lr(it - 1, steps)
        loss = _loss(model, *_batch(train))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if it % EVAL_EVERY == 0 or it == steps:
            train_s += time.perf_counter() - tick
            model.eval()
            with torch.no_grad():
                estimate = sum(_loss(model, *_batch(valid)).item() for _ in range(EVAL_ITERS)) / EVAL_ITERS
            model.train()
            print(f"step {it}: valid loss estimate {estimate:.4f}", file=sys.stderr)
            tick = time.perf_counter()
    torch.save(model.state_dict(), weights)
    print(json.dumps({"train_s": train_s}))  # the caller's: seconds of training steps, evaluation left out


def _trainlab_full_valid_loss(store: Path, overrides: dict[str, object]) -> float:
    """The whole-split validation loss of trainlab's final weights, by the script's own function."""
    from trainlab.api import planned_runs
    from trainlab.train import checkpoint
    from trainlab.train.build import DataCache, build_model

    (run,) = planned_runs(ROOT / STUDY, overrides)
    bundle = DataCache().get(run.config)
    model = build_model(run.config, bundle.info)
    model.load_state_dict(checkpoint.load(store / "runs" / run.id / "last.pt", torch.device("cpu"))["model"])
    return _full_valid_loss(model, bundle.valid.stream)


def _script_full_valid_loss(weights: Path, data_root: str) -> float:
    from trainlab.data.text import TinyShakespeareConfig, load_tinyshakespeare

    bundle = load_tinyshakespeare(TinyShakespeareConfig(name="tinyshakespeare", root=data_root, seq_len=BLOCK))
    model = TinyGPT(bundle.info.num_classes)
    model.load_state_dict(torch.load(weights, weights_only=True))
    return _full_valid_loss(model, bundle.valid.stream)


def _timed(cmd: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    wall = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return wall, done.stdout


def _assignment(text: str) -> str:
    """A --set KEY=VALUE, checked as trainlab's own --set is; passed on to `trainlab run` as written."""
    from trainlab.errors import TrainlabError
    from trainlab.spec.dotted import parse_assignment

    try:
        parse_assignment(text)
    except TrainlabError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--data", default="../shared/data/tinyshakespeare")
    p.add_argument("--rounds", type=int, default=3, help="runs of each side; the JSON gives the median wall time")
    p.add_argument(
        "--vary-seed", action="store_true", help="seed round r with r on both sides (default: seed 0 throughout)"
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="sets",
        type=_assignment,
        help="an override of trainlab's side, e.g. model.bias=false: the script's bias-free architecture",
    )
    p.add_argument("--script", action="store_true", help=argparse.SUPPRESS)  # the peer, in its own process
    p.add_argument("--weights", type=Path, help=argparse.SUPPRESS)  # where the peer leaves its final weights
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)  # the peer's seed
    args = p.parse_args()
    if args.rounds < 1 or args.steps < 1:
        p.error("--rounds and --steps must be at least 1")
    if args.script:
        script(args.steps, args.data, args.weights, args.seed)
        return
    seeds = list(range(args.rounds)) if args.vary_seed else [0] * args.rounds
    rounds: dict[str, list[dict]] = {"script": [], "trainlab": []}
    for r, seed in enumerate(seeds):  # alternate which side goes first: this VM's speed drifts by 10-15 %
        for side in ("script", "trainlab") if r % 2 == 0 else ("trainlab", "script"):
            rounds[side].append((_run_script if side == "script" else _run_trainlab)(args, seed))
    each = {f"{side}_{key}": [x[key] for x in rounds[side]] for side in rounds for key in rounds[side][0]}
    median = {key: statistics.median(v) for key, v in each.items()}
    print(
        json.dumps(
            {
                "benchmark": "lm_peer",
                "steps": args.steps,
                "rounds": args.rounds,
                "threads": torch.get_num_threads(),
                "trainlab_overrides": args.sets,
                "seeds": seeds,
                "trainlab_wall_s": round(median["trainlab_wall"], 2),
                "script_wall_s": round(median["script_wall"], 2),
                "wall_ratio": round(median["trainlab_wall"] / median["script_wall"], 3),
                "trainlab_walls_s": [round(w, 1) for w in each["trainlab_wall"]],
                "script_walls_s": [round(w, 1) for w in each["script_wall"]],
                # seconds of training steps only (no start-up, evaluation or saving): where a wall-time gap comes from
                "trainlab_train_s": round(median["trainlab_train_s"], 2),
                "script_train_s": round(median["script_train_s"], 2),
                "trainlab_valid_loss": round(statistics.fmean(each["trainlab_loss"]), 4),
                "script_valid_loss": round(statistics.fmean(each["script_loss"]), 4),
                "trainlab_valid_losses": [round(x, 4) for x in each["trainlab_loss"]],
                "script_valid_losses": [round(x, 4) for x in each["script_loss"]],
                "trainlab_valid_sample_loss": round(statistics.fmean(each["trainlab_sample"]), 4),
                "trainlab_valid_points": each["trainlab_points"][-1],
            }
        )
    )


def _run_script(args: argparse.Namespace, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        weights = Path(folder) / "script.pt"
        wall, out = _timed(
            [
                sys.executable,
                __file__,
                "--script",
                "--steps",
                str(args.steps),
                "--data",
                args.data,
                "--weights",
                str(weights),
                "--seed",
                str(seed),
            ]
        )
        return {"wall": wall, "loss": _script_full_valid_loss(weights, args.data), **json.loads(out.splitlines()[-1])}


def _run_trainlab(args: argparse.Namespace, seed: int) -> dict:
    from trainlab.store import open_store

    with tempfile.TemporaryDirectory() as store:
        overrides = {
            "data.root": args.data,
            "train.steps": args.steps,
            "train.seed": seed,
            **dict(a.split("=", 1) for a in args.sets),
        }
        sets = [a for k, v in overrides.items() for a in ("--set", f"{k}={v}")]
        wall, _ = _timed([sys.executable, "-m", "trainlab.cli", "run", STUDY, "--store", store, *sets, "--quiet"])
        m = open_store(store).metrics()
        valid = m[(m["split"] == "valid") & (m["name"] == "loss")].sort_values("step")
        train_s = m[(m["split"] == "train") & (m["name"] == "seconds")]["value"].sum()
        return {
            "wall": wall,
            "loss": _trainlab_full_valid_loss(Path(store), overrides),
            "train_s": float(train_s),
            "sample": float(valid["value"].iloc[-1]),
            "points": len(valid),
        }


if __name__ == "__main__":
    main()
