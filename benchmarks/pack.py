"""Packed training against one run at a time, on the studies our users run: the same study trained into two
fresh stores in one invocation, `--pack off` then `--pack auto` (or `--pack N`), with wall times, the speedup,
and a check that the runs are the same (ids, and the largest difference of a run's best validation value).

    python benchmarks/pack.py                       # the optimizer sweep (75 runs), the quickstart (6 runs),
                                                    # one lottery level with its controls and two seeds
    python benchmarks/pack.py --sweep-epochs 1 --quickstart-epochs 2 --lottery-steps 500   # shorter
    python benchmarks/pack.py --device cuda         # 64 LeNet-300-100 on MNIST, on a GPU (target >= 20x)
    python benchmarks/pack.py --lenets-only --lenet-steps 200   # the same 64 LeNets on this CPU, shorter
    python benchmarks/pack.py --workers 2           # the sweep and the quickstart also on 2 worker processes,
                                                    # unpacked and packed
    python benchmarks/pack.py --lottery-levels 3    # three lottery levels (lottery_runs: 20)
    python benchmarks/pack.py --postech-only --pack 4   # the POSTECH study's dense run and its four one-shot
                                                    # pruned runs, 40 steps each: in bf16 as written where the
                                                    # device has it natively (a GPU), else in fp32

Prints one JSON line last: sweep_sequential_s, sweep_packed_s, sweep_speedup, quickstart_sequential_s,
quickstart_packed_s, quickstart_speedup, lottery_speedup (or, with --device cuda, lenets_*; with
--postech-only, postech_*); with --workers, sweep_workers_s, sweep_workers_packed_s and their speedups over one
run at a time in one process, and the same for the quickstart.
Also sweep_matmul_floor_s and sweep_eval_floor_s, the time of the matrix products alone that the sweep's runs
must compute in training and in evaluation, and sweep_speedup_ceiling, sweep_sequential_s over their sum: the
most any schedule of its runs could gain here; sweep_floor_gflops, the rate of those training products, beside
sweep_peak_gflops, the rate of one large square product (this machine's best).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import yaml
from common import best_seconds  # benchmarks/common.py (scripts run from their folder)

from trainlab.api import run_study
from trainlab.hardware import cpu_has_native_bf16
from trainlab.store import Store

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
# what each sweep run evaluates at least: the validation split every epoch (data.valid_size's default), the test
# split once at the end (Fashion-MNIST's published test set; twice where the best-valid epoch is not the last,
# which the floor leaves out: a higher floor would only lower the ceiling)
FASHION_MNIST_VALID, FASHION_MNIST_TEST = 5000, 10000


def timed_pair(
    study: dict[str, Any],
    pack: str,
    device: str,
    folder: Path,
    only: list[int] | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """The study trained with --pack off and with `pack`, each into a fresh store: seconds, and sameness. With
    `workers`, also with that many worker processes, --pack off and `pack` (workers_s, workers_packed_s)."""
    path = folder / f"{study['name']}.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    settings = {"sequential": {"pack": "off"}, "packed": {"pack": pack}}
    if workers:
        settings |= {
            "workers": {"pack": "off", "workers": workers},
            "workers_packed": {"pack": pack, "workers": workers},
        }
    seconds, bests = {}, {}
    for label, setting in settings.items():
        store = folder / f"{study['name']}-{label}"
        t0 = time.perf_counter()
        outcomes = run_study(path, store=store, device=device, only=only, **setting)
        seconds[label] = time.perf_counter() - t0
        assert all(o.status in ("done", "diverged") for o in outcomes), [o.status for o in outcomes]
        db = Store(store)
        try:
            runs = db.runs(study["name"])
        finally:
            db.close()
        bests[label] = dict(zip(runs["id"], runs["best_value"]))
    same_ids = all(b.keys() == bests["sequential"].keys() for b in bests.values())
    differences = [abs(bests["sequential"][i] - b[i]) for b in bests.values() for i in b]
    return {
        **{f"{label}_s": round(t, 1) for label, t in seconds.items()},
        **{
            ("speedup" if label == "packed" else f"{label}_speedup"): round(seconds["sequential"] / t, 2)
            for label, t in seconds.items()
            if label != "sequential"
        },
        "runs": len(bests["sequential"]),
        "same_ids": same_ids,
        "max_best_difference": max(differences),
    }


def matmul_floor(
    store: Path, members: int, widths: list[int], batch: int, eval_samples: int, eval_batch: int, trials: int = 5
) -> dict[str, Any]:
    """The least time the runs in `store` (MLPs of layer `widths`, batches of `batch`) could take on this
    machine: only the matrix products they must compute, at the rate packing gives them. Training: each
    layer's forward product and weight gradient, and the input gradient of every layer but the first (what
    autograd computes for an MLP), as one batched product over a pack of `members` runs, times the steps
    the runs took (matmul_floor_s). Evaluation: the forward products of `eval_samples` inputs per
    run in batches of `eval_batch`, every member of a pack multiplying the same inputs, so one product per
    layer with the members' weights side by side (eval_floor_s). The update rules, the loss, activations
    and everything else are left out, so `sequential_s / (matmul_floor_s + eval_floor_s)` bounds what any
    way of scheduling the runs could gain (speedup_ceiling)."""
    db = Store(store)
    try:
        runs, metrics = db.runs(), db.metrics()
    finally:
        db.close()
    steps = int(metrics[metrics["split"] == "train"].groupby("run_id")["step"].max().sum())
    layers = list(zip(widths, widths[1:]))
    x = [torch.randn(members, batch, n) for n in widths]
    w = [torch.randn(members, n_in, n_out) for n_in, n_out in layers]
    shared = [torch.randn(eval_batch, n) for n in widths]
    side_by_side = [torch.randn(n_in, members * n_out) for n_in, n_out in layers]

    def training() -> None:
        for i, _ in enumerate(layers):
            torch.bmm(x[i], w[i])  # forward
            torch.bmm(x[i].transpose(1, 2), x[i + 1])  # weight gradient
            if i:
                torch.bmm(x[i + 1], w[i].transpose(1, 2))  # input gradient

    def evaluation() -> None:
        for i, _ in enumerate(layers):
            torch.mm(shared[i], side_by_side[i])

    per_step, per_batch = best_seconds(training, trials, 20), best_seconds(evaluation, trials, 20)
    eval_batches = len(runs) * -(-eval_samples // eval_batch)
    step_flops = sum(2 * members * batch * n_in * n_out * (3 if i else 2) for i, (n_in, n_out) in enumerate(layers))
    return {
        "matmul_floor_s": per_step / members * steps,
        "eval_floor_s": per_batch / members * eval_batches,
        "floor_steps": steps,
        "floor_members": members,
        "floor_gflops": round(step_flops / per_step / 1e9, 1),
        "peak_gflops": round(peak_gflops(trials), 1),
    }


def peak_gflops(trials: int, n: int = 2048) -> float:
    """The rate of one large square matrix product on this machine (GFLOP/s): what the floor's products would
    reach at best, to compare with the rate they get at the sweep's shapes (floor_gflops)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / best_seconds(lambda: torch.mm(a, b), trials, 3) / 1e9


def largest_pack(store: Path) -> int:
    """The most runs that trained in one pack into `store` (1: none packed)."""
    db = Store(store)
    try:
        facts = [json.loads(f).get("packed") for f in db.runs()["facts"]]
    finally:
        db.close()
    return max((f["members"] for f in facts if f), default=1)


def study_file(name: str, /, **changes: Any) -> dict[str, Any]:
    """A study of studies/ with its data root made absolute and `changes` merged into it (nested dicts key by
    key)."""
    study = yaml.safe_load((ROOT / "studies" / f"{name}.yaml").read_text())
    study.pop("store", None)
    if "root" in study["base"]["data"]:
        study["base"]["data"]["root"] = str(DATA / Path(study["base"]["data"]["root"]).name)
    _merge(study, changes)
    return study


def _merge(tree: dict[str, Any], changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(tree.get(key), dict):
            _merge(tree[key], value)
        else:
            tree[key] = value


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sweep-epochs", type=int, default=4, help="epochs of each optimizer-sweep run (study: 4)")
    p.add_argument("--quickstart-epochs", type=int, default=20, help="epochs of each quickstart run (study: 20)")
    p.add_argument("--lottery-steps", type=int, default=2000, help="steps of each lottery run (study: 10,000)")
    p.add_argument(
        "--lottery-levels",
        type=int,
        default=1,
        help="levels of the lottery study (study: 16); from 2 on, a level's tickets pack with the controls of the "
        "level before (both wait for that level's tickets)",
    )
    p.add_argument("--pack", default="auto", help="the packed side's --pack (auto, or N to pack regardless)")
    p.add_argument("--device", default="cpu", help="cpu: the three studies; cuda: 64 LeNets on MNIST")
    p.add_argument("--lenets", type=int, default=64, help="with --device cuda: LeNet-300-100 runs (seeds)")
    p.add_argument("--lenet-steps", type=int, default=2000, help="with --device cuda: steps of each LeNet run")
    p.add_argument("--lenets-only", action="store_true", help="the LeNets' comparison on --device, only")
    p.add_argument(
        "--workers",
        type=int,
        help="also the sweep and the quickstart with N worker processes, --pack off and --pack PACK",
    )
    p.add_argument("--postech-only", action="store_true", help="the POSTECH study's one-shot stage, only")
    p.add_argument(
        "--postech-precision",
        choices=("fp32", "bf16"),
        help="with --postech-only: default bf16 as the study is written where the device has it natively, else fp32",
    )
    p.add_argument("--postech-steps", type=int, default=40, help="with --postech-only: steps of each run")
    p.add_argument("--smoke", action="store_true", help="tiny data and few runs: that the script runs, no figure")
    args = p.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        p.error(f"--device {args.device}: this machine has no CUDA device (torch {torch.__version__})")
    if args.smoke:
        args.sweep_epochs, args.quickstart_epochs, args.lottery_steps, args.lenets, args.lenet_steps = 1, 1, 20, 2, 20
    result: dict[str, Any] = {"benchmark": "pack", "device": args.device, "pack": args.pack}
    # torch.optim imports torch._dynamo when a process builds its first optimizer (1.9 s here): paid before
    # either side is timed, not by the side that trains first
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.postech_only:
            native = args.device.startswith("cuda") or cpu_has_native_bf16()  # emulated bf16: minutes a step
            precision = args.postech_precision or ("bf16" if native else "fp32")
            result["postech_precision"] = precision
            train = {"steps": args.postech_steps, "precision": precision}
            postech = study_file("postech-pruned-transformer", base={"train": train})
            pair = timed_pair(postech, args.pack, args.device, folder, only=[2, 3, 4, 5])  # with the dense run 1
            result.update({f"postech_{k}": v for k, v in pair.items()})
        elif args.device.startswith("cuda") or args.lenets_only:
            steps = args.lenet_steps
            lenets = study_file(
                "lth-lenet-mnist",
                name="lenets",
                seeds=list(range(args.lenets)),
                base={"train": {"steps": steps, "eval_every_steps": min(500, steps)}},
            )
            lenets.pop("lottery")
            lenets["kind"] = "train"
            lenets["runs"] = [{}]
            pair = timed_pair(lenets, args.pack, args.device, folder)
            result.update({f"lenets_{k}": v for k, v in pair.items()})
        else:
            small = {"max_train": 1000} if args.smoke else {}
            sweep_study = study_file("optimizer-sweep", base={"train": {"epochs": args.sweep_epochs}, "data": small})
            sweep = timed_pair(sweep_study, args.pack, "cpu", folder, [1, 16] if args.smoke else None, args.workers)
            model, train = sweep_study["base"]["model"], sweep_study["base"]["train"]
            sweep |= matmul_floor(
                folder / "optimizer-sweep-sequential",
                largest_pack(folder / "optimizer-sweep-packed"),
                [784, *model["hidden"], 10],
                train["batch_size"],
                eval_samples=args.sweep_epochs * FASHION_MNIST_VALID + FASHION_MNIST_TEST,
                eval_batch=train["batch_size"],
            )
            floor = sweep["matmul_floor_s"] + sweep["eval_floor_s"]
            sweep["speedup_ceiling"] = round(sweep["sequential_s"] / floor, 2)
            sweep["matmul_floor_s"], sweep["eval_floor_s"] = (
                round(sweep["matmul_floor_s"], 2),
                round(sweep["eval_floor_s"], 2),
            )
            quick = timed_pair(
                study_file(
                    "quickstart",
                    base={"train": {"epochs": args.quickstart_epochs}, "data": {"n": 1000} if args.smoke else {}},
                ),
                args.pack,
                "cpu",
                folder,
                workers=args.workers,
            )
            lottery = timed_pair(
                study_file(
                    "lth-lenet-mnist",
                    base={"train": {"steps": args.lottery_steps}},
                    lottery={"levels": args.lottery_levels},
                ),
                args.pack,
                "cpu",
                folder,
            )
            for name, pair in (("sweep", sweep), ("quickstart", quick), ("lottery", lottery)):
                result.update({f"{name}_{k}": v for k, v in pair.items()})
    result["target_speedup"] = 20 if args.device.startswith("cuda") else 3
    print(json.dumps(result))


if __name__ == "__main__":
    main()
