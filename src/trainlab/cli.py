"""The only place that reads argv: parse, call trainlab.api, print. User errors exit 2 without a traceback."""

from __future__ import annotations

import argparse
import json
import logging
import math
import shlex
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from trainlab.errors import TrainlabError
from trainlab.exiting import skip_final_collections
from trainlab.spec.dotted import parse_assignment

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def _only(text: str) -> list[int]:
    try:
        numbers = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected experiment numbers like 1,3 (got {text!r})") from None
    if not numbers:
        raise argparse.ArgumentTypeError("expected at least one experiment number")
    return numbers


def _keys(text: str) -> list[str]:
    keys = [part.strip() for part in text.split(",") if part.strip()]
    if not keys:
        raise argparse.ArgumentTypeError("expected config keys like optim.name")
    return keys


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="trainlab", description="Train, measure, store and report ML studies.")
    sub = p.add_subparsers(dest="command", required=True)

    def study_command(name: str, help: str) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help, description=help)
        c.add_argument("study", help="the study YAML file")
        c.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. optim.lr=0.05")
        c.add_argument("--only", type=_only, help="experiment numbers, e.g. 1,3")
        c.add_argument("--store", help="store folder (default: the study's `store:` or ./trainlab-store)")
        return c

    c = study_command("check", "validate a study and print its plan")
    c.add_argument("--json", action="store_true", help="print the plan as a JSON list")
    c.add_argument("--pack", default="auto", help="show how `trainlab run --pack PACK` groups the runs (default auto)")
    r = study_command("run", "train every run not yet done; resume partial ones")
    r.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N")
    r.add_argument(
        "--progress-every",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="when stderr is not a terminal (logs, CI): a progress line inside an epoch this often (default 30)",
    )
    r.add_argument(
        "--pack",
        default="auto",
        help="train runs of one model shape together in one process (vmapped; with --workers or Ray, a pack per "
        "worker): auto (where a timed step says it is faster; default), off, or N (packs of at most N runs, "
        "always); ids and results do not change",
    )
    r.add_argument(
        "--workers",
        type=int,
        help="train up to N runs at once, each in a worker process of this machine "
        "(CPU threads split between them; one GPU each when there are GPUs); default 1: this process",
    )
    r.add_argument(
        "--executor",
        default="local",
        help="local (processes of this machine) or ray (Ray tasks; pip install -e '.[ray]')",
    )
    r.add_argument(
        "--address",
        help="with --executor ray: auto (the cluster running here), HOST:PORT or ray://HOST:PORT; "
        "default: a Ray cluster of this machine alone",
    )
    r.add_argument(
        "--resources",
        help="with --executor ray: what each run asks of a node, as JSON, e.g. '{\"GPU\": 1}' "
        "(default 1 CPU, and 1 GPU with --device cuda)",
    )
    r.add_argument(
        "--retries",
        type=int,
        default=2,
        help="how often a run whose worker died is retried from its last checkpoint (default 2)",
    )
    r.add_argument(
        "--retrain-lost",
        action="store_true",
        help="train again the runs whose folders hold checkpoints that store.sqlite has no record of and no "
        "event log can rebuild (their folders are kept as runs/<id>.lost)",
    )
    rep = sub.add_parser("report", help="write figures, tables and an HTML page from the store")
    rep.add_argument(
        "study", help="the study YAML file, or the name of a study in --store that has none (tracked, imported)"
    )
    rep.add_argument("--store", help="store folder")
    rep.add_argument("--out", help="output folder (default ./trainlab-report/STUDY)")
    rep.add_argument(
        "--x",
        help="axis of the curves, convergence table and findings: step, epoch, seen, seconds or "
        "flops (default: step when runs validate every train.eval_every_steps steps, else epoch); the "
        "page draws every axis",
    )
    rep.add_argument(
        "--group",
        type=_keys,
        help="config keys whose values group runs in the sweep figures and the "
        "best-setting table, e.g. optim.name (default: the categorical keys the study varies)",
    )
    rep.add_argument(
        "--include-partial",
        action="store_true",
        help="put runs not finished (stopped, failed, still training) in the tables, figures and findings, "
        "marked (partial); by default the summary lists them and leaves them out",
    )
    ls = sub.add_parser("ls", help="list the runs in the store")
    ls.add_argument("--study", help="only this study")
    ls.add_argument("--store", default="trainlab-store", help="store folder (default ./trainlab-store)")
    ls.add_argument("--json", action="store_true")
    show = sub.add_parser("show", help="everything the store holds about one run")
    show.add_argument("run", help="run id (a unique prefix is enough)")
    show.add_argument("--store", default="trainlab-store", help="store folder (default ./trainlab-store)")
    show.add_argument("--json", action="store_true")
    land = sub.add_parser("landscape", help="loss surface around a stored run (Li et al. 2018)")
    land.add_argument("run", help="run id (a unique prefix is enough)")
    land.add_argument("--store", default="trainlab-store", help="store folder (default ./trainlab-store)")
    land.add_argument("--checkpoint", default="best", help="best, last or epoch:N")
    land.add_argument(
        "--dirs",
        default="random",
        choices=["random", "pca", "init"],
        help="two filter-normalised random directions; PCA of the trajectory; toward init + random",
    )
    land.add_argument("--grid", type=int, default=41, help="points per axis")
    land.add_argument("--range", default="-1:1", help="LO:HI along both directions")
    land.add_argument("--metrics", default="loss,accuracy", help="comma-separated: loss, accuracy, perplexity")
    land.add_argument("--split", default="valid", choices=["train", "valid", "test"])
    land.add_argument("--max-batches", type=int, default=8, help="evaluation batches per point (0: all)")
    land.add_argument("--epochs", choices=["all"], help="every stored epoch on one fixed basis, animated")
    land.add_argument(
        "--mode",
        default="weights",
        choices=["weights", "states"],
        help="states also moves BatchNorm running statistics",
    )
    land.add_argument("--seed", type=int, default=0, help="seed of the random directions")
    land.add_argument("--device", default="auto")
    fit = sub.add_parser("scaling-fit", help="fit L(N, D) = E + A/N^a + B/D^b to a CSV (Chinchilla approach 3)")
    fit.add_argument("csv", help="a table with one row per run")
    fit.add_argument("--n", default="N", help="column of parameter counts (default N)")
    fit.add_argument("--d", help="column of training tokens")
    fit.add_argument("--c", help="column of training FLOPs (tokens are taken as C / 6N)")
    fit.add_argument("--loss", default="loss", help="column of final losses (default loss)")
    fit.add_argument("--exclude-top", type=int, default=0, help="leave out the N runs of highest loss first")
    fit.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        help="bootstrap refits for 95 %% intervals (default 1000: minutes on a large table; 0: none)",
    )
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--json", action="store_true")
    clip = sub.add_parser("clip-score", help="how well each caption fits an image, by a CLIP model")
    clip.add_argument("image", help="an image file (PNG, JPEG, ...)")
    clip.add_argument("captions", nargs="+", help="the captions to compare")
    clip.add_argument(
        "--pretrained",
        default="openai/clip-vit-base-patch32",
        help="a CLIP model: a Hugging Face Hub name, a folder, or tiny-random (untrained, for trials)",
    )
    imp = sub.add_parser("import", help="runs recorded elsewhere into the store (TensorBoard event files)")
    imp.add_argument("format", choices=["tensorboard"], help="what the runs were recorded with")
    imp.add_argument("logdir", help="the log folder: every folder under it holding event files is one run")
    imp.add_argument("--study", required=True, help="the study the runs join (reported by name: trainlab report NAME)")
    imp.add_argument("--store", default="trainlab-store", help="store folder (default ./trainlab-store)")
    imp.add_argument("--main-metric", default="loss", help="the valid metric that ranks rounds (default loss)")
    exp = sub.add_parser("export", help="a study's curves out of the store: TensorBoard events, CSV or Parquet")
    exp.add_argument("study", help="the study YAML file, or the name of a study in --store")
    exp.add_argument("out", help="the folder to write into")
    exp.add_argument("--format", required=True, choices=["tensorboard", "csv", "parquet"], dest="fmt")
    exp.add_argument("--store", help="store folder")
    srv = sub.add_parser("serve", help="a live dashboard over the store, in the browser (read-only)")
    srv.add_argument("--store", default="trainlab-store", help="store folder (default ./trainlab-store)")
    srv.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; any other needs a token)",
    )
    srv.add_argument("--port", type=int, default=8765)
    srv.add_argument("--token", help="required of every request (made up and printed when --host is not local)")
    srv.add_argument(
        "--reports", default="trainlab-report", help="folder of static reports to link (default ./trainlab-report)"
    )
    for command in sub.choices.values():
        command.add_argument(
            "--quiet", action="store_true", help="no progress and no phase lines on stderr (results still print)"
        )
    return p


def cmd_clip_score(args: argparse.Namespace, console: Console) -> int:
    from trainlab.api import score_captions

    scores = score_captions(args.image, args.captions, args.pretrained)
    table = Table(title=f"{args.image}: captions by {args.pretrained}")
    table.add_column("caption")
    table.add_column("probability", justify="right")
    for caption, p in sorted(zip(args.captions, scores), key=lambda cs: -cs[1]):
        table.add_row(caption, f"{p:.1%}")
    console.print(table)
    return 0


def cmd_serve(args: argparse.Namespace, console: Console) -> int:
    from trainlab.api import serve

    serve(
        args.store,
        args.host,
        args.port,
        args.token,
        args.reports,
        announce=lambda text: console.print(text, markup=False),
    )
    return 0


def _range(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError:
        raise TrainlabError(f"--range {text}: expected LO:HI, e.g. -1:1") from None
    return lo, hi


def cmd_landscape(args: argparse.Namespace, console: Console) -> int:
    from pydantic import ValidationError

    from trainlab.api import landscape
    from trainlab.spec.study import format_validation_error
    from trainlab.studies.landscape.section import LandscapeSpec

    try:
        spec = LandscapeSpec(
            checkpoint=args.checkpoint,
            dirs=args.dirs,
            grid=args.grid,
            range=_range(args.range),
            metrics=tuple(m.strip() for m in args.metrics.split(",") if m.strip()),
            split=args.split,
            max_batches=args.max_batches or None,
            epochs=args.epochs,
            seed=args.seed,
            mode=args.mode,
        )
    except ValidationError as err:
        raise TrainlabError(f"landscape: {format_validation_error(err)}") from None
    files = landscape(args.store, args.run, spec, args.device, args.progress)
    for path in files:
        console.print(str(path))
    return 0


def _overrides(assignments: Sequence[str]) -> dict[str, Any]:
    return dict(parse_assignment(a) for a in assignments)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v, digits)}" for k, v in value.items()) or "-"
    if isinstance(value, list):
        return "; ".join(_fmt(v, digits) for v in value) or "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _count(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def _status_text(status: str, epochs: int) -> str:
    return f"partial at epoch {epochs}" if status == "partial" else status


def cmd_check(args: argparse.Namespace, console: Console) -> int:
    from trainlab.api import check_study, pack_plan, planned_runs, plugins_used

    lines = check_study(args.study, _overrides(args.set), args.only, args.store)
    if args.json:
        print(json.dumps([line.as_dict() for line in lines], indent=2))
        return 0
    table = Table(title=f"{args.study}: {len(lines)} runs")
    for col in (
        "exp",
        "seed",
        "id",
        "label",
        "changes from base",
        "params total / trainable / non-embedding",
        "status",
    ):
        table.add_column(col)
    for line in lines:
        changes = " ".join(f"{k}={v}" for k, v in line.changes.items()) or "(base)"
        if line.parent:
            changes += f" ({line.relation or 'child of'} {line.parent})"
        params = " / ".join(_count(n) for n in (line.params_total, line.params_trainable, line.params_non_embedding))
        table.add_row(
            str(line.experiment),
            str(line.seed),
            line.id,
            line.label,
            changes,
            params,
            _status_text(line.status, line.epochs_done),
        )
    console.print(table)
    counts: dict[str, int] = {}
    for line in lines:
        counts[line.status] = counts.get(line.status, 0) + 1
    console.print(", ".join(f"{n} {s}" for s, n in counts.items()) or "nothing planned")
    _print_packs(pack_plan(args.study, _overrides(args.set), args.only, args.store, args.pack), args.pack, console)
    for use in plugins_used(args.study, planned_runs(args.study, _overrides(args.set), args.only, args.store)):
        digest = f", source {use.source}" if use.source else ""
        console.print(f"plugin {use.section} {use.name}: {use.origin}{digest}", markup=False, soft_wrap=True)
    return 0


SHOWN_PACKS = 24  # packs and lone runs listed by check, in the order they train; the rest are counted


def _print_packs(lines: list, pack: str, console: Console) -> None:
    """How the runs not done yet would train, in order: packs (experiments, runs), and runs alone with the
    reason."""
    packs, alone = [p for p in lines if not p.alone], [p for p in lines if p.alone]
    if not lines:
        return
    pack = pack.strip().lower()  # as --pack reads it (AUTO is auto)
    members = sum(len(p.ids) for p in packs)
    console.print(
        f"packing (--pack {pack}): {members} runs in {len(packs)} pack{'' if len(packs) == 1 else 's'}, "
        f"{len(alone)} alone"
        + (
            "; auto times each pack's step first and trains its runs one at a time where that is faster"
            if pack == "auto" and packs
            else ""
        ),
        soft_wrap=True,
    )
    number = 0
    for p in lines[:SHOWN_PACKS]:
        if p.alone:
            line = f"  alone: exp {p.experiments[0]} seed {p.seeds[0]} [{p.ids[0][:8]}]: {p.alone}"
        else:
            number += 1
            experiments = ", ".join(str(e) for e in sorted(set(p.experiments)))
            line = f"  pack {number}: {len(p.ids)} runs, experiments {experiments}"
        console.print(line, markup=False, soft_wrap=True)
    hidden = len(lines) - SHOWN_PACKS
    if hidden > 0:
        console.print(f"  ... and {hidden} more", soft_wrap=True)


EXIT_INCOMPLETE = 1  # some runs failed or are blocked; the rest is stored


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    from trainlab.api import run_study

    outcomes = run_study(
        args.study,
        _overrides(args.set),
        args.only,
        args.store,
        args.device,
        args.progress,
        workers=args.workers,
        executor=args.executor,
        address=args.address,
        resources=args.resources,
        retries=args.retries,
        retrain_lost=args.retrain_lost,
        command=args.command_line,
        pack=args.pack,
        progress_every=args.progress_every,
    )
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    console.print(f"{len(outcomes)} runs: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    for o in outcomes:
        if o.status in ("failed", "blocked"):
            console.print(
                f"  run {o.id} (experiment {o.experiment}, seed {o.seed}) {o.status}: {o.reason}", markup=False
            )
    return EXIT_INCOMPLETE if {"failed", "blocked"} & set(counts) else 0


def cmd_import(args: argparse.Namespace, console: Console) -> int:
    from trainlab.api.tensorboard import import_tensorboard

    def said(source: str, run_id: str, what: str) -> None:
        console.print(f"  {source}: run {run_id} {what}", markup=False)

    ids = import_tensorboard(args.logdir, args.study, args.store, args.main_metric, on_run=said)
    console.print(f"{len(ids)} runs in study {args.study}; report: trainlab report {args.study} --store {args.store}")
    return 0


def cmd_export(args: argparse.Namespace, console: Console) -> int:
    from trainlab.api.export import export_study

    written = export_study(args.study, args.out, args.fmt, args.store)
    console.print(f"{len(written)} files and folders written to {args.out}", markup=False)
    return 0


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    from trainlab.api import report_study

    html = report_study(args.study, args.store, args.out, args.x, args.group, args.include_partial)
    console.print(f"report written: {html}")
    return 0


LS_COLUMNS = [
    "id",
    "study",
    "experiment",
    "seed",
    "status",
    "epochs_done",
    "main_metric",
    "best_value",
    "best_epoch",
    "train_s_per_epoch",
    "params_total",
]
RELATION_COLUMNS = ["relation", "parent_id"]  # shown when some run starts from another


def cmd_ls(args: argparse.Namespace, console: Console) -> int:
    from trainlab.api import run_summaries
    from trainlab.api.common import open_existing

    store = open_existing(args.store)
    df = run_summaries(store, args.study)
    if args.json:
        records = (
            [] if df.empty else df[[*LS_COLUMNS, *RELATION_COLUMNS, "held_by", "config"]].to_dict(orient="records")
        )
        for r in records:
            r["config"] = json.loads(r["config"])
        print(json.dumps(records, indent=2, default=str))
        return 0
    columns = LS_COLUMNS + (RELATION_COLUMNS if not df.empty and df["parent_id"].notna().any() else [])
    columns += ["held_by"] if not df.empty and df["held_by"].notna().any() else []
    table = Table(title=f"{args.store}: {len(df)} runs")
    for col in columns:
        table.add_column(col, overflow="fold")
    for r in df.itertuples():
        table.add_row(*(_fmt(getattr(r, c)) for c in columns))
    console.print(table)
    return 0


def cmd_show(args: argparse.Namespace, console: Console) -> int:
    from trainlab.api import describe_run
    from trainlab.api.common import open_existing

    store = open_existing(args.store)
    info = describe_run(store, args.run)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    console.print(f"[bold]run {info['id']}[/bold]  status {_status_text(info['status'], info['epochs_done'])}")
    for key in (
        "parent",
        "children",
        "studies",
        "device",
        "hardware",
        "params_total",
        "params_trainable",
        "params_non_embedding",
        "best",
        "train_s_per_epoch",
        "eval_s_per_epoch",
        "samples_per_s",
        "tokens_per_s",
        "eval_samples_per_s",
        "eval_tokens_per_s",
        "flops",
        "memory",
        "memory_analytic",
        "params_by_module",
        "test",
        "checkpoints",
        "packed",
        "notes",
        "folder",
    ):
        if key not in ("parent", "children", "packed", "notes") or info.get(key):
            console.print(f"  {key}: {_fmt(info.get(key))}", markup=False)
    if info.get("error"):
        console.print(f"  error:\n{info['error']}", markup=False)
    console.print("  config:")
    for section, fields in info["config"].items():
        console.print(f"    {section}: " + ", ".join(f"{k}={v}" for k, v in fields.items()), markup=False)
    table = Table(title="per epoch")
    cols = list(info["epochs"][0]) if info["epochs"] else []
    for col in cols:  # split/name on two lines, folded rather than cut: no two headers end up alike
        table.add_column(col.replace("/", "/\n"), overflow="fold")
    for row in info["epochs"]:
        table.add_row(*(_fmt(row[c]) for c in cols))
    console.print(table)
    return 0


def cmd_scaling_fit(args: argparse.Namespace, console: Console) -> int:
    from trainlab.api import scaling_fit

    result = scaling_fit(args.csv, args.n, args.loss, args.d, args.c, args.exclude_top, args.bootstrap, args.seed)
    if args.json:
        print(
            json.dumps(
                {
                    "fit": result.fit.as_dict(),
                    "runs": result.runs,
                    "a": result.fit.compute_exponent,
                    "intervals": result.intervals,
                    "notes": list(result.notes),
                },
                indent=2,
            )
        )
        return 0
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    console.print(
        f"L(N, D) = E + A/N^alpha + B/D^beta fitted to {result.runs} runs of {args.csv} (Huber on log L)", markup=False
    )
    table = Table()
    for col in ("parameter", "estimate", "95 % interval"):
        table.add_column(col)
    for name in ("E", "A", "B", "alpha", "beta", "a"):
        value = result.fit.compute_exponent if name == "a" else getattr(result.fit, name)
        lo, hi = result.intervals.get(name, (math.nan, math.nan))
        table.add_row(name, _fmt(value), "-" if math.isnan(lo) else f"{_fmt(lo)} - {_fmt(hi)}")
    console.print(table)
    console.print(f"objective {result.fit.objective:.6g}; a = beta / (alpha + beta): N_opt grows as C^a", markup=False)
    return 0


COMMANDS = {
    "check": cmd_check,
    "run": cmd_run,
    "report": cmd_report,
    "ls": cmd_ls,
    "show": cmd_show,
    "landscape": cmd_landscape,
    "scaling-fit": cmd_scaling_fit,
    "serve": cmd_serve,
    "clip-score": cmd_clip_score,
    "import": cmd_import,
    "export": cmd_export,
}


class PhaseLines(logging.Handler):
    """The `trainlab` logger's phase lines (trainlab.phases) on the progress console, where a live progress
    bar keeps them above itself."""

    def __init__(self, console: Console) -> None:
        super().__init__(logging.INFO)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        self.console.print(f"trainlab: {record.getMessage()}", markup=False, highlight=False, soft_wrap=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.command_line = shlex.join(["trainlab", *(sys.argv[1:] if argv is None else argv)])  # kept with the runs
    console = Console(width=None if sys.stdout.isatty() else 160)  # results; logs and pipes: don't wrap at 80
    # progress bars, phase lines and notes go to stderr, so that a pipe of stdout gets the results alone
    args.progress = None if args.quiet else Console(stderr=True, width=None if sys.stderr.isatty() else 160)
    phases = logging.getLogger("trainlab")
    lines = PhaseLines(args.progress) if args.progress else logging.NullHandler()
    phases.setLevel(logging.INFO)
    phases.addHandler(lines)
    try:
        return COMMANDS[args.command](args, console)
    except TrainlabError as err:
        print(f"trainlab: error: {' '.join(str(err).split())}", file=sys.stderr)  # one line, always
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("trainlab: interrupted; finished epochs are saved; rerun the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        phases.removeHandler(lines)


def entry() -> None:
    """The `trainlab` command: main(), then an exit without CPython's final collections (main() itself leaves
    the collector alone, for callers that go on)."""
    code = main()
    skip_final_collections()
    sys.exit(code)


if __name__ == "__main__":
    entry()
