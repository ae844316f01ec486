"""A progress display for long studies: run i/N, epoch, step, loss, samples/s, ETA."""

from __future__ import annotations

import time

import torch
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from trainlab.spec.metrics import metric_title
from trainlab.train import Hook, Loop, Row

REFRESH_EVERY_STEPS = 20  # reading the loss forces a device sync; do it rarely
PLAIN_EVERY_S = 30.0  # without a terminal (logs, CI): a plain line this often inside an epoch (--progress-every)


class ProgressHook(Hook):
    """Updates one rich progress bar per run; the bar's total is every step of every epoch."""

    def __init__(self, progress: Progress, title: str, loop: Loop, plain_every_s: float = PLAIN_EVERY_S) -> None:
        cfg = loop.train_cfg
        self.progress = progress
        self.steps_per_epoch = loop.data.train.num_batches(cfg.batch_size)
        self.total = cfg.total_steps(self.steps_per_epoch)
        self.every = cfg.eval_every_steps  # rounds are evaluation intervals, not data epochs
        self.epochs = -(-self.total // self.every) if self.every else cfg.max_epochs(self.steps_per_epoch)
        self.task = progress.add_task(escape(title), total=self.total, completed=loop.state.step, status="")
        self._t0, self._n0 = time.perf_counter(), loop.state.step
        self._said = self._t0  # when the last plain line was printed
        self.plain = not progress.console.is_terminal
        self.plain_every_s = plain_every_s

    def retitle(self, title: str) -> None:
        self.progress.update(self.task, description=escape(title))

    def on_step(self, loop: Loop, loss: torch.Tensor) -> None:
        self.progress.advance(self.task)
        now = time.perf_counter()
        if self.plain and now - self._said >= self.plain_every_s:  # a log has no live bar: say where the epoch is
            self._said = now
            self.progress.console.print(f"{self.progress.tasks[self.task].description} {self._status(loop, loss)}")
        elif loop.state.step % REFRESH_EVERY_STEPS == 0:
            self.progress.update(self.task, status=self._status(loop, loss))

    def _status(self, loop: Loop, loss: torch.Tensor) -> str:
        """Where the run is, its loss, examples a second and the time its steps still need at that rate."""
        done = loop.state.step - self._n0
        seconds = time.perf_counter() - self._t0
        rate = done * loop.train_cfg.batch_size / seconds if seconds > 0 else 0.0
        eta = (self.total - loop.state.step) * seconds / done if done else float("nan")
        return f"{self._where(loop)} loss {loss.item():.4f} {rate:,.0f} samples/s, {eta:,.0f} s to go"

    def _where(self, loop: Loop) -> str:
        step = loop.state.step
        if self.every:
            return f"step {step}/{self.total}"
        in_epoch = step - loop.state.epoch * self.steps_per_epoch
        return f"epoch {loop.state.epoch + 1}/{self.epochs} step {in_epoch}/{self.steps_per_epoch}"

    def on_epoch_end(self, loop: Loop, rows: list[Row], improved: bool) -> None:
        valid = {r.name: r.value for r in rows if r.split == "valid"}
        metric = loop.task.main_metric
        shown = f" valid {metric_title(metric)} {valid[metric]:.4f}" if metric in valid else ""
        done = f"step {loop.state.step}/{self.total}" if self.every else f"epoch {loop.state.epoch}/{self.epochs} done"
        status = f"{done}{shown}"
        self.progress.update(self.task, status=status)
        if not self.progress.console.is_terminal:  # logs and CI: no live bar, so one line per epoch
            title = self.progress.tasks[self.task].description
            self.progress.console.print(f"{title} {status} ({loop.state.train_seconds:.1f} s training)")


def make_progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
        transient=False,
    )
