"""Studies of pretrained models: each experiment's regime (frozen encoder, partly frozen, fully fine-tuned,
zero-shot, linear probe, random initialisation) beside its accuracy, time and trainable parameters, and
the findings that answer "does fine-tuning pay here, and at what cost?" and "what does pretraining buy?"."""

from __future__ import annotations

import math

import pandas as pd

from trainlab.analysis.stats import MeanCI, mean_ci
from trainlab.analysis.sweep import separated
from trainlab.report.records import StudyRecords
from trainlab.report.tables import Table, memory_column, ordered_experiments

FROZEN, FULL = ("frozen encoder", "linear probe"), ("fully fine-tuned", "fine-tuned")


def regime(records: StudyRecords, runs: pd.DataFrame) -> str:
    """How an experiment uses its pretrained weights, in words."""
    if records.column(runs, "model.name") == "hf_clip":
        return {"zero_shot": "zero-shot", "linear_probe": "linear probe", "fine_tune": "fine-tuned"}[
            str(records.column(runs, "model.mode") or "zero_shot")
        ]
    freeze = str(records.column(runs, "model.freeze") or "none")
    how = {"none": "fully fine-tuned", "encoder": "frozen encoder", "embeddings": "embeddings frozen"}.get(
        freeze, f"first {freeze.split(':')[-1]} layers frozen"
    )
    return f"{how}, random init" if records.column(runs, "model.random_init") else how


def _stat(runs: pd.DataFrame, column: str) -> MeanCI:
    return mean_ci(runs[column].tolist())


def _metric(records: StudyRecords, runs: pd.DataFrame) -> tuple[str, MeanCI]:
    """Test metric where the runs have one, else valid."""
    test = _stat(runs, "test_metric")
    return ("test", test) if test.n else ("valid", _stat(runs, "valid_metric"))


def _count(n: float) -> str:
    return "-" if math.isnan(n) else f"{n / 1e6:.1f} M" if n >= 1e6 else f"{n / 1e3:.1f} k" if n >= 1e3 else f"{n:.0f}"


def table(records: StudyRecords) -> Table:
    metric, memory = records.main_metric, memory_column(records)
    out = Table(
        "",
        [
            "exp",
            "configuration",
            "regime",
            f"valid {metric}",
            f"test {metric}",
            "train s/epoch",
            "trainable params",
            "frozen params",
            memory.replace("_", " "),
        ],
    )
    for number, label, runs in ordered_experiments(records):
        total, trainable = float(runs["params_total"].iloc[0]), float(runs["params_trainable"].iloc[0])
        out.rows.append(
            [
                str(number),
                label,
                regime(records, runs),
                _stat(runs, "valid_metric").text(),
                _stat(runs, "test_metric").text(),
                _stat(runs, "train_s_per_epoch").text(2),
                _count(trainable),
                _count(total - trainable),
                f"{runs[memory].max():.0f}",
            ]
        )
    out.caption = (
        f"Pretrained models of study {records.name}: how each experiment uses its weights, its {metric} "
        "(mean ± 95 % CI over seeds; test on the best-valid checkpoint), training seconds per epoch, "
        "parameters trained and kept frozen, and peak memory."
    )
    return out


def _best(records: StudyRecords, regimes: tuple[str, ...]) -> tuple[int, str, MeanCI, pd.DataFrame] | None:
    found = [
        (n, *_metric(records, runs), runs) for n, _, runs in records.experiments() if regime(records, runs) in regimes
    ]
    found = [f for f in found if f[2].n]
    if not found:
        return None
    number, split, stat, runs = max(found, key=lambda f: f[2].mean if records.mode == "max" else -f[2].mean)
    return number, split, stat, runs


def _compare(records: StudyRecords, a: tuple, b: tuple) -> tuple[str, bool]:
    """'+18.0 points' (accuracy-like) or the difference, and whether a is better with separated intervals."""
    diff = a[2].mean - b[2].mean
    better = (diff > 0) == (records.mode == "max") and separated(a[2], b[2])
    scale = 100 if records.main_metric in ("accuracy", "exact_match") else 1
    unit = " points" if scale == 100 else ""
    return f"{diff * scale:+.1f}{unit}" if scale == 100 else f"{diff:+.4g}", better


def findings(records: StudyRecords) -> list[str]:
    """Does full fine-tuning pay over the frozen encoder (or a linear probe), and at what cost; what the
    pretrained weights buy over a random initialisation; how zero-shot compares."""
    out, metric = [], records.main_metric
    full, frozen = _best(records, FULL), _best(records, FROZEN)
    if full and frozen:
        gap, pays = _compare(records, full, frozen)
        time_full, time_frozen = (float(r[3]["train_s_per_epoch"].mean()) for r in (full, frozen))
        params = [float(r[3]["params_trainable"].iloc[0]) for r in (full, frozen)]
        verdict = "pays here" if pays else "does not clearly pay here"
        sure = "the intervals are separated" if pays else "the seeds do not separate them, or it is worse"
        out.append(
            f"Full fine-tuning {verdict}: {full[1]} {metric} {full[2].text()} (experiment {full[0]}) against "
            f"{frozen[2].text()} with a {regime(records, frozen[3])} (experiment {frozen[0]}), {gap} ({sure}), at "
            f"{time_full / time_frozen:.1f}× the training time per epoch ({time_full:.2f} s vs {time_frozen:.2f} s) "
            "and "
            f"{_count(params[0])} vs {_count(params[1])} trainable parameters."
        )
    scratch = _best(records, ("fully fine-tuned, random init",))
    if full and scratch:
        gap, pays = _compare(records, full, scratch)
        sure = "the intervals are separated" if pays else "the seeds do not separate them"
        out.append(
            f"What pretraining buys: fine-tuned from the pretrained weights {full[2].text()} against "
            f"{scratch[2].text()} for the same architecture from a random initialisation (experiments {full[0]} "
            f"and {scratch[0]}), {gap} ({sure})."
        )
    zero = _best(records, ("zero-shot",))
    if zero and (full or frozen):
        other = full or frozen
        gap, _ = _compare(records, other, zero)
        out.append(
            f"Zero-shot {metric} {zero[2].text()} (experiment {zero[0]}, no training); the {regime(records, other[3])} "
            f"model (experiment {other[0]}) differs from it by {gap}."
        )
    return out
