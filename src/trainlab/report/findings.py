"""Findings computed from the store, each naming the numbers it rests on; hedged where seed CIs overlap."""

from __future__ import annotations

import math

import pandas as pd

from trainlab.analysis.curves import AXES, overfitting_epoch
from trainlab.analysis.stats import MeanCI, mean_ci
from trainlab.report.records import StudyRecords
from trainlab.report.tables import UNITS, mixed_packing, ordered_experiments, packing_note

LISTED = 5  # a finding names at most this many runs or experiments, then says how many more


def _name(records: StudyRecords, number: int, runs: pd.DataFrame) -> str:
    return f"experiment {number} ({runs['label'].iloc[0]})"


def _listing(items: list[str], joiner: str) -> str:
    """The first LISTED items joined, then how many more (a 1,000-run sweep must not print 1,000)."""
    more = f"{joiner}... ({len(items) - LISTED} more)" if len(items) > LISTED else ""
    return joiner.join(items[:LISTED]) + more


def _overlap(a: MeanCI, b: MeanCI) -> bool:
    """True when two intervals overlap (single seeds have none: then nothing can be claimed either way)."""
    if a.n < 2 or b.n < 2:
        return False
    return a.low <= b.high and b.low <= a.high


def _ranked(records: StudyRecords, column: str) -> list[tuple[MeanCI, int, pd.DataFrame]]:
    stats = [(mean_ci(runs[column].tolist()), n, runs) for n, _, runs in records.experiments()]
    stats = [s for s in stats if not math.isnan(s[0].mean)]
    return sorted(stats, key=lambda s: -s[0].mean if records.mode == "max" else s[0].mean)


def best_generalisation(records: StudyRecords) -> list[str]:
    out = []
    for column, split in (("valid_metric", "valid"), ("test_metric", "test")):
        ranked = _ranked(records, column)
        if not ranked:
            continue
        (best, n, runs), rest = ranked[0], ranked[1:]
        text = f"Best {split} {records.metric_title}: {_name(records, n, runs)} with {best.text()}."
        if rest and _overlap(best, rest[0][0]):
            text += (
                f" Its 95 % interval overlaps that of {_name(records, rest[0][1], rest[0][2])} "
                f"({rest[0][0].text()}), so the seeds do not separate them."
            )
        elif rest and best.n < 2:
            runner_up = _name(records, rest[0][1], rest[0][2])
            text += f" Runner-up: {runner_up} with {rest[0][0].text()} (one seed each: no interval)."
        out.append(text)
    return out


def fastest(records: StudyRecords, order: list[int], convergence_rows: list[list[str]]) -> list[str]:
    """From the convergence table: the experiment that first got within 5 % of the best, by wall-clock."""
    if not convergence_rows or convergence_rows[0][3] == "-":
        return ["No experiment came within 5 % of the best validation result."]
    row = convergence_rows[0]
    runs = dict((n, r) for n, _, r in records.experiments())[order[0]]
    first, second = records.x, "seconds" if records.x != "seconds" else "flops"
    text = (
        f"Fastest to within 5 % of the best valid {records.metric_title}: {_name(records, order[0], runs)}, "
        f"after {row[4]} {UNITS[second]} of training ({row[3]} {UNITS[first]})."
    )
    return [f"{text} {packing_note(records)}" if mixed_packing(records) else text]  # it states seconds


def overfitting(records: StudyRecords) -> list[str]:
    out = _overfitting_runs(records)
    if len(out) > LISTED:
        return [f"{len(out)} of {len(records.runs)} runs overfit; the first {LISTED}: " + " ".join(out[:LISTED])]
    return out or [
        "No run overfits by this test (valid loss rising for 2+ evaluations after its minimum while train loss falls)."
    ]


def _overfitting_runs(records: StudyRecords) -> list[str]:
    out = []
    for number, _, runs in records.experiments():
        for rid, seed in zip(runs["id"], runs["seed"]):
            train = records.curve(rid, "train", "loss", AXES[records.x])
            valid = records.curve(rid, "valid", "loss", AXES[records.x])
            if len(valid) < 3:
                continue
            epoch = overfitting_epoch(train, valid)
            if epoch is not None:
                out.append(
                    f"{_name(records, number, runs)}, seed {seed}, overfits from {_at(records, epoch)}: valid loss "
                    f"{valid[epoch]:.4g} there, {valid.iloc[-1]:.4g} at the end, while train loss fell "
                    f"from {train[epoch]:.4g} to {train.iloc[-1]:.4g}."
                )
    return out


def _at(records: StudyRecords, x: float) -> str:
    """A point on the report's axis in words: 'epoch 3', 'step 1,250', '2.1e+12 FLOPs'."""
    return {
        "step": f"step {x:,.0f}",
        "epoch": f"epoch {x:g}",
        "seen": f"{x:,.0f} {UNITS['seen']} seen",
        "seconds": f"{x:.1f} s",
        "flops": f"{x:.3g} FLOPs",
    }[records.x]


def divergence(records: StudyRecords) -> list[str]:
    diverged = records.runs[records.runs["status"] == "diverged"]
    unit = "round" if records.step_based else "epoch"
    runs = [
        f"{_name(records, int(r.experiment), records.runs[records.runs['experiment'] == r.experiment])}, seed "
        f"{r.seed}, in {unit} {int(r.diverged_epoch)}"
        for r in diverged.itertuples()
    ]
    return [f"Diverged (non-finite loss): {_listing(runs, '; ')}."] if runs else []


def generalisation_gap(records: StudyRecords) -> list[str]:
    gaps = []
    for number, _, runs in records.experiments():
        gap = mean_ci((runs["train_metric"] - runs["valid_metric"]).abs().tolist())
        if not math.isnan(gap.mean):
            gaps.append((gap, number, runs))
    if not gaps:
        return []
    gap, number, runs = max(gaps, key=lambda g: g[0].mean)
    largest = _name(records, number, runs)
    text = f"Train-valid gap in {records.metric_title} at the best epoch: largest for {largest}, {gap.text()}"
    if len(gaps) > 1:
        small, s_number, s_runs = min(gaps, key=lambda g: g[0].mean)
        text += f"; smallest for {_name(records, s_number, s_runs)}, {small.text()}"
    return [text + "."]


def optimizer_ranking(records: StudyRecords) -> list[str]:
    out = []
    by_arch: dict[str, list[tuple[MeanCI, str]]] = {}
    for number, label, runs in ordered_experiments(records):
        by_arch.setdefault(records.architecture(runs), []).append(
            (mean_ci(runs["valid_metric"].tolist()), f"{label} (exp {number})")
        )
    for arch, entries in by_arch.items():
        if len(entries) < 2:
            continue
        entries.sort(key=lambda e: -e[0].mean if records.mode == "max" else e[0].mean)
        ranking = _listing([f"{label} {stat.text()}" for stat, label in entries], " > ")
        hedge = " (the top two overlap within their 95 % intervals)" if _overlap(entries[0][0], entries[1][0]) else ""
        out.append(f"Configurations of {arch}, by valid {records.metric_title}: {ranking}{hedge}.")
    return out


def loss_ranking(records: StudyRecords) -> list[str]:
    """Experiments by their best validation loss, when the main metric is something else (BLEU): the
    comparison courses make (CSC413 ranks its translation models so)."""
    if records.main_metric == "loss":
        return []
    ranked = []
    for number, _, runs in records.experiments():
        best = [records.curve(rid, "valid", "loss").min() for rid in runs["id"]]
        stat = mean_ci([b for b in best if not math.isnan(b)])
        if not math.isnan(stat.mean):
            ranked.append((stat, number, runs))
    if len(ranked) < 2:
        return []
    ranked.sort(key=lambda r: r[0].mean)
    order = _listing([f"{_name(records, n, runs)} {stat.text()}" for stat, n, runs in ranked], " < ")
    return [f"By best validation loss (lower first): {order}."]


def findings(records: StudyRecords, order: list[int], convergence_rows: list[list[str]]) -> list[str]:
    return [
        *fastest(records, order, convergence_rows),
        *best_generalisation(records),
        *loss_ranking(records),
        *optimizer_ranking(records),
        *generalisation_gap(records),
        *overfitting(records),
        *divergence(records),
    ]
