"""Train one run, from its last checkpoint when it has one, telling the store what happens through
events (trainlab.store.events): the runner never writes the store itself, so it can run in a worker.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from trainlab.errors import TrainlabError
from trainlab.execution.progress import ProgressHook
from trainlab.execution.units import Context, Outcome
from trainlab.files import write_text_atomic
from trainlab.phases import phase
from trainlab.spec import RunSpec
from trainlab.store.events import (
    ArtifactSaved,
    CheckpointSaved,
    EpochEnded,
    FactsMeasured,
    MetricRow,
    RunEnded,
    RunNote,
    RunStarted,
    Sink,
)
from trainlab.store.manifest import device_facts, git_state, library_versions, now_iso, write_manifest
from trainlab.train import Hook, Loop, Row, checkpoint, flops, measure, seeding
from trainlab.train.build import build_parts
from trainlab.train.hooks import config_hooks
from trainlab.train.packed import (
    PackedLoop,
    evaluate_together,
    failure,
    members_that_fit,
    packs,
    step_seconds,
    why_alone,
)


class Recorder(Hook):
    """At each epoch end: the epoch's rows and progress to the store (committed when `sink` returns),
    then best.pt and kept epoch checkpoints, then last.pt (its predecessor kept as last.prev.pt).

    The store is written first: if the process dies before last.pt is replaced, the rerun resumes
    from the older checkpoint and drops the rows written after it.
    """

    def __init__(self, sink: Sink, run_id: str, folder: Path, keep_epochs: frozenset[int]) -> None:
        self.sink, self.run_id, self.folder, self.keep_epochs = sink, run_id, folder, keep_epochs

    def on_epoch_end(self, loop: Loop, rows: list[Row], improved: bool) -> None:
        s = loop.state
        status = "diverged" if s.stop_reason == "diverged" else "partial"
        progress = {
            "status": status,
            "epochs_done": s.epoch,
            "best_value": s.best_value,
            "best_epoch": s.best_epoch,
            "diverged_epoch": s.diverged_epoch,
            "train_seconds": s.train_seconds,
        }
        self.sink(
            EpochEnded(
                self.run_id, tuple((r.step, r.epoch, r.split, r.name, r.value, r.wall_s) for r in rows), progress
            )
        )
        if improved:
            self.keep(loop.model.state_dict(), "best.pt")
        if loop.train_cfg.keep_epoch_checkpoints or s.epoch in self.keep_epochs:
            self.keep(loop.model.state_dict(), f"epoch_{s.epoch}.pt")
        checkpoint.save_keeping_previous(loop.snapshot(), self.folder / "last.pt")

    def keep(self, state: dict[str, torch.Tensor], name: str) -> None:
        checkpoint.save_atomic(state, self.folder / name)
        self.sink(CheckpointSaved(self.run_id, name))


class KeepSteps(Hook):
    """Saves the weights after the optimizer steps that other runs rewind to (step:K inputs)."""

    def __init__(self, recorder: Recorder, steps: frozenset[int]) -> None:
        self.recorder, self.model_steps = recorder, steps

    def on_step(self, loop: Loop, loss: torch.Tensor) -> None:
        if loop.state.step in self.model_steps:
            self.recorder.keep(loop.model.state_dict(), f"step_{loop.state.step}.pt")


Tested = tuple[dict[str, float], dict[str, float] | None]  # test metrics of the last model, of the best-valid one


def _test_rows(loop: Loop, folder: Path, tested: Tested | None = None) -> tuple[MetricRow, ...]:
    """Test metrics of the last model (split test_last) and the best-valid one (split test); one evaluation
    when the last epoch is the best. Leaves the best-valid weights in the model. `tested`: the metrics a pack
    measured for its members together (`_tested_together`, which loaded the best weights)."""
    test = loop.data.test
    if test is None:
        return ()
    s = loop.state
    last = tested[0] if tested else loop.evaluate(test)
    rows = [(s.step, s.epoch, "test_last", k, v, s.train_seconds) for k, v in last.items()]
    if s.best_epoch is not None:
        if s.best_epoch == s.epoch:
            best = last
        elif tested:
            best = tested[1]
        else:
            loop.model.load_state_dict(checkpoint.load(folder / "best.pt", loop.device))
            best = loop.evaluate(test)
        rows += [(s.step, s.best_epoch, "test", k, v, s.train_seconds) for k, v in best.items()]
    return tuple(rows)


def _tested_together(loops: list[Loop], folders: list[Path]) -> dict[int, Tested]:
    """The test metrics of a pack's finished members (by id of their loop), from one vmapped pass over the
    last models and one over the best-valid ones, which it loads; {} where they cannot share an evaluation."""
    done = [(loop, folder) for loop, folder in zip(loops, folders) if loop.state.stop_reason != "diverged"]
    test = loops[0].data.test
    if test is None or not done:
        return {}
    with phase(f"test evaluation of {len(done)} packed runs on {len(test):,} examples"):
        return _evaluated_together(done, test)


def _evaluated_together(done: list[tuple[Loop, Path]], test: Any) -> dict[int, Tested]:
    if (last := evaluate_together([loop for loop, _ in done], test)) is None:
        return {}
    behind = [(loop, folder) for loop, folder in done if loop.state.best_epoch not in (None, loop.state.epoch)]
    for loop, folder in behind:
        loop.model.load_state_dict(checkpoint.load(folder / "best.pt", loop.device))
    best = evaluate_together([loop for loop, _ in behind], test) if behind else []
    best_of = {id(loop): metrics for (loop, _), (metrics, _) in zip(behind, best or [])}
    return {id(loop): (metrics, best_of.get(id(loop))) for (loop, _), (metrics, _) in zip(done, last)}


PACK_GAIN = 0.9  # --pack auto packs when a packed step takes less than this part of the steps alone

SAMPLES = 10  # examples of the best model's outputs kept for the report


def _save_samples(run_id: str, loop: Loop, folder: Path, sink: Sink) -> None:
    """What the best model makes of the first test (else valid) examples, as samples.json."""
    split = loop.data.test or loop.data.valid
    with loop.autocast():
        samples = loop.task.samples(loop.model, split, SAMPLES)
    if samples:
        write_text_atomic(folder / "samples.json", json.dumps(samples, indent=1, ensure_ascii=False))
        sink(
            ArtifactSaved(
                run_id, "samples", f"runs/{run_id}/samples.json", {"split": "test" if loop.data.test else "valid"}
            )
        )


def _flop_facts(run: RunSpec, loop: Loop) -> dict[str, Any]:
    """FLOPs per example (or target token) of a training step, counted on the first batch in eval mode
    (so BatchNorm statistics stay untouched), and the analytic value where one exists."""
    x, y = next(loop.data.train.batches(loop.train_cfg.batch_size))
    loop.model.eval()
    measured = flops.measured_train_flops(loop.model, loop.task.loss, x, y)
    loop.model.train()
    return {
        "flops_per_unit": measured / loop.task.units(y),
        "flops_unit": "token" if loop.task.throughput == "tokens_per_s" else "example",
        "flops_per_unit_analytic": flops.analytic_train_flops_per_token(
            run.config.model.name, loop.model, loop.data.info
        ),
        "params_by_module": measure.parameters_by_module(loop.model),
        "steps_per_epoch": loop.data.train.num_batches(loop.train_cfg.batch_size),  # for curves over data epochs
    }


@dataclass(frozen=True)
class Started:
    """What making a run's starting weights leaves for its training: hooks that go first (before anything
    reads the weights), facts for the store, and files of the run's folder to record (e.g. a mask)."""

    hooks: tuple[Hook, ...] = ()
    facts: Mapping[str, Any] = field(default_factory=dict)
    files: tuple[str, ...] = ()


class Start:
    """How a run's weights are made before its first step, the trainer's one extension point for kinds.
    By default: the model's own initialisation (seeded by the run), or the weights of the run's `weights`
    inputs (a warm start). A kind that starts runs otherwise (from a fresh initialisation, a point off a
    line, under a mask) subclasses it and gives it to `train_run`; `resumed` restores what it needs again
    when the run continues from its last checkpoint."""

    def fresh(self, run: RunSpec, loop: Loop, ctx: Context, folder: Path) -> Started:
        """Make the starting weights in `loop.model` (saved as init.pt afterwards)."""
        self.load_inputs(run, loop, ctx)
        return Started()

    def resumed(self, run: RunSpec, loop: Loop, ctx: Context, folder: Path) -> Started:
        """After last.pt was restored."""
        return Started()

    @staticmethod
    def load_inputs(run: RunSpec, loop: Loop, ctx: Context) -> None:
        """The weights of the run's `weights` inputs, in order (a run that starts from another's weights)."""
        for source in run.inputs_for("weights"):
            loop.model.load_state_dict(checkpoint.load_weights(ctx.checkpoint_of(source), ctx.device))


def _resume_or_start(run: RunSpec, loop: Loop, ctx: Context, folder: Path, start: Start) -> tuple[list[str], Started]:
    """Restore the newest readable last.pt; without one, make the starting weights and save them as init.pt.
    Returns notes about damaged checkpoints skipped, and what the start left for training."""
    snapshot, notes = checkpoint.load_newest(folder / "last.pt", ctx.device)
    if snapshot is not None:
        loop.restore(snapshot)
        started = start.resumed(run, loop, ctx, folder)
        return [f"{note}; resumed from the previous checkpoint (epoch {loop.state.epoch})" for note in notes], started
    started = start.fresh(run, loop, ctx, folder)
    checkpoint.save_atomic(loop.model.state_dict(), folder / "init.pt")
    torch.manual_seed(seeding.stream_seed(run.config.train.seed, "dropout"))
    return [f"{note}; restarted the run from scratch" for note in notes], started


def train_run(run: RunSpec, ctx: Context, start: Start | None = None) -> Outcome:
    """Train one run to completion, from its last checkpoint when it has one; `start` makes its weights
    when it has none (default: `Start()`)."""
    with seeding.private_global_rng(ctx.device):
        loop = prepare_run(run, ctx, start or Start())
        return finish_run(run, loop, ctx, train=loop.run)


def train_pack(runs: Sequence[RunSpec], ctx: Context, start: Start | None = None) -> list[Outcome]:
    """Train runs together in packs of at most `ctx.pack.size` (trainlab.train.packed; under auto, also at
    most what fits in memory); each run is prepared and finished as `train_run` does, so a member is an
    ordinary run. A run that cannot pack trains alone, with a note saying why; so do a pack's runs where
    `--pack auto` timed packing slower; the members of a pack that fails (a model that vmap cannot batch) go
    on alone from their last checkpoints. A run that fails is its own outcome, not the others'."""
    with seeding.private_global_rng(ctx.device):
        loops, streams = [], {}  # the global RNG each run left prepared: its dropout stream when it trains alone
        for run in runs:
            loops.append(prepare_run(run, ctx, start or Start()))
            streams[id(loops[-1])] = seeding.rng_state(ctx.device)
        run_of = {id(loop): run for loop, run in zip(loops, runs)}
        groups, alone = packs(loops, _pack_size(loops, ctx))
        together = [PackedLoop(group) for group in groups if len(group) > 1]
        slower = [(pack, why) for pack in together if (why := _slower(pack, ctx))]
        alone += [(loop, why) for pack, why in slower for loop in pack.members]
        for loop, why in alone:
            ctx.sink(RunNote(run_of[id(loop)].id, f"trained alone, not packed: {why}", warning=False))
            if len(runs) > 1:  # its progress says so, not only the pack's title the driver gave
                _retitle(loop, f"{ctx.title}, one at a time:", run_of[id(loop)])
        packed, broken, tested = set(), set(), {}
        for pack in (p for p in together if not any(p is s for s, _ in slower)):
            group = pack.members
            for loop in group:
                _record_packed(run_of[id(loop)].id, {"members": len(group), "from_epoch": loop.state.epoch + 1}, ctx)
            try:
                pack.run()  # the pack auto timed: its gradients' layout is known already
                packed.update(map(id, group))
                tested.update(_tested_together(group, [ctx.folder(run_of[id(loop)].id) for loop in group]))
            except (KeyboardInterrupt, TrainlabError):
                raise
            except Exception as err:
                broken.update(map(id, group))
                for loop in group:  # each trains alone again (`_finished`), which clears its `packed` fact
                    note = f"packed training failed ({failure(err)}); trained alone from its checkpoint"
                    ctx.sink(RunNote(run_of[id(loop)].id, note, warning=False))
        outcomes = []
        for loop in loops:
            if id(loop) not in packed:
                seeding.set_rng_state(streams[id(loop)], ctx.device)
            packing = (id(loop) in packed, id(loop) in broken, tested.get(id(loop)))
            outcomes.append(_finished(run_of[id(loop)], loop, ctx, start, *packing))
        return outcomes


def _record_packed(run_id: str, packed: dict[str, int], ctx: Context) -> None:
    """The run's `packed` fact: the pack it trains in from which epoch (`prepare_run` clears it whenever a run
    starts). Its stored seconds are then the pack's wall time, which the report says beside its times
    (report.tables.packing_note). Like `hardware`, it describes the run's latest stretch of training."""
    ctx.sink(FactsMeasured(run_id, {"packed": packed}))


def _pack_size(loops: list[Loop], ctx: Context) -> int:
    """--pack N, or under auto at most what fits in memory (the loops of a driver's group share a shape)."""
    packable = [loop for loop in loops if why_alone(loop) is None]
    if not ctx.pack.measure or not packable:
        return ctx.pack.size
    return min(ctx.pack.size, members_that_fit(packable[0]))


def _slower(pack: PackedLoop, ctx: Context) -> str | None:
    """Under --pack auto, why this pack would not be faster than its runs one at a time (None: it would)."""
    if not ctx.pack.measure:
        return None
    try:
        packed_s, alone_s = step_seconds(pack)
    except (KeyboardInterrupt, TrainlabError):
        raise
    except Exception as err:  # a model vmap cannot batch: its runs train as they would without --pack
        return f"a packed step could not be taken: {failure(err)}"
    if packed_s < PACK_GAIN * alone_s:
        return None
    return (
        f"a step of the {len(pack.members)} runs packed took {packed_s * 1e3:.1f} ms against "
        f"{alone_s * 1e3:.1f} ms one at a time, auto packs under {PACK_GAIN:.0%} of it (--pack N packs anyway)"
    )


def _finished(
    run: RunSpec, loop: Loop, ctx: Context, start: Start | None, packed: bool, broken: bool, tested: Tested | None
) -> Outcome:
    """A pack's run finished: tested and ended (trained alone first when it was not packed, or anew when its
    pack failed); a failure is this run's outcome."""
    try:
        if broken:
            return train_run(run, ctx, start)
        return finish_run(run, loop, ctx, train=(lambda: None) if packed else loop.run, tested=tested)
    except (KeyboardInterrupt, TrainlabError):
        raise
    except Exception as err:
        return Outcome(
            run.id, run.experiment, run.seed, "failed", reason=f"{type(err).__name__}: {err}".splitlines()[0]
        )


def prepare_run(run: RunSpec, ctx: Context, start: Start) -> Loop:
    """A run's loop, ready to train: built from the run's seed (or restored from its last checkpoint), its
    start, facts and manifest sent to the store, its hooks in place. The caller holds a private global RNG."""
    cfg, sink, device = run.config, ctx.sink, ctx.device
    folder = ctx.folder(run.id)
    data = ctx.data.on(cfg, device)
    torch.manual_seed(seeding.stream_seed(cfg.train.seed, "init"))
    parts = build_parts(cfg, data, device)
    loop = Loop(parts.model, parts.optimizer, parts.schedule, data, parts.task, cfg.train, device)
    facts = _flop_facts(run, loop)
    loop.flops_per_unit = facts["flops_per_unit_analytic"] or facts["flops_per_unit"]
    if cfg.train.compile:  # after counting, which needs eager ops; compiling in place keeps state_dict keys
        loop.model.compile()
    notes, started = _resume_or_start(run, loop, ctx, folder, start)
    hardware = device_facts(device)
    sink(
        RunStarted(
            run.id,
            cfg.to_dict(),
            parts.task.main_metric,
            measure.parameter_counts(parts.model),
            str(device),
            loop.state.epoch,
            # "packed": how this stretch of training runs, set by train_pack (times are the pack's)
            {"hardware": hardware, "main_mode": parts.task.mode, "packed": None, **_command(ctx)},
            run.parent,
            run.relation,
        )
    )
    sink(CheckpointSaved(run.id, "init.pt"))
    for note in notes:
        sink(RunNote(run.id, note))
    for name in started.files:
        sink(CheckpointSaved(run.id, name))
    sink(FactsMeasured(run.id, {**facts, **started.facts}))
    write_manifest(
        folder / "manifest.json",
        run_id=run.id,
        config=cfg.to_dict(),
        git=git_state(ctx.project_dir),
        versions=library_versions(),
        **hardware,
        started_at=now_iso(),
        resumed_from_epoch=loop.state.epoch,
        inputs=[i.as_dict() for i in run.inputs],
    )
    loop.hooks = _hooks(run, loop, ctx, folder, started)
    return loop


def finish_run(
    run: RunSpec, loop: Loop, ctx: Context, train: Callable[[], object], tested: Tested | None = None
) -> Outcome:
    """`train()` (the loop's own run, or nothing when a pack trained it), then the test evaluation and the
    run's end in the store; an error is recorded as the run's failure (with its traceback) and raised."""
    sink, folder, state = ctx.sink, ctx.folder(run.id), loop.state
    try:
        train()
        if state.stop_reason == "diverged":
            sink(RunEnded(run.id, "diverged"))
        else:
            with _testing(run, loop, tested):
                rows = _test_rows(loop, folder, tested)  # leaves the best-valid weights in the model
                _save_samples(run.id, loop, folder, sink)
            facts = {"memory_analytic": measure.analytic_memory_mb(loop.model, loop.optimizer)}
            sink(RunEnded(run.id, "done", rows, facts))
    except (KeyboardInterrupt, TrainlabError):
        raise
    except Exception:
        sink(RunEnded(run.id, "failed", facts={"error": traceback.format_exc(limit=-10)}))
        raise
    status = "diverged" if state.stop_reason == "diverged" else "done"
    write_manifest(folder / "manifest.json", finished_at=now_iso(), status=status, stop_reason=state.stop_reason)
    return Outcome(run.id, run.experiment, run.seed, status, state.epoch)


def _testing(run: RunSpec, loop: Loop, tested: Tested | None) -> AbstractContextManager[None]:
    """The phase line of a run's final evaluation (translation decodes every test sentence: minutes)."""
    test = loop.data.test
    if tested or test is None:  # nothing left to evaluate, or only a few samples to keep
        return nullcontext()
    decoding = " (decoding every sentence)" if loop.task.main_metric == "bleu" else ""
    return phase(f"run {run.id[:8]}: test evaluation on {len(test):,} examples{decoding}")


def _hooks(run: RunSpec, loop: Loop, ctx: Context, folder: Path, started: Started) -> list[Hook]:
    recorder = Recorder(ctx.sink, run.id, folder, _kept(ctx, run.id, "epoch"))
    hooks: list[Hook] = [*started.hooks]  # the start's first: before anything reads the weights
    hooks += [*config_hooks(run.config.train), recorder]  # config hooks first: their decisions belong in the checkpoint
    if steps := _kept(ctx, run.id, "step"):
        hooks.append(KeepSteps(recorder, steps))
    if ctx.progress:
        hooks.append(ProgressHook(ctx.progress, _progress_title(ctx.title, run), loop, ctx.progress_every))
    return hooks


def _progress_title(prefix: str, run: RunSpec) -> str:
    return f"{prefix} exp {run.experiment} seed {run.config.train.seed} [{run.id[:8]}]"


def _retitle(loop: Loop, prefix: str, run: RunSpec) -> None:
    """The run's progress bar (if it has one) titled `prefix` instead of the one it was prepared with."""
    for hook in loop.hooks:
        if isinstance(hook, ProgressHook):
            hook.retitle(_progress_title(prefix, run))


def _kept(ctx: Context, run_id: str, what: str) -> frozenset[int]:
    """The epochs (or steps) of this run that other runs start from."""
    return frozenset(int(c.split(":")[1]) for c in ctx.keep.get(run_id, ()) if c.startswith(what + ":"))


def _command(ctx: Context) -> dict[str, str]:
    """The command line that started the run, when it came from one (the store keeps it in its facts)."""
    return {"command": ctx.command} if ctx.command else {}
