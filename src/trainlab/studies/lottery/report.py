"""The lottery study's page: accuracy and early-stopping epoch against the weights remaining, one line per
kind of run with 95 % bands over seeds; per-layer sparsity; findings that compare tickets, controls and
the dense network, each with its numbers and intervals (the comparisons of Frankle & Carbin 2019, §2)."""

from __future__ import annotations

import html
import json
import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from trainlab.analysis.curves import first_reaching, within_target
from trainlab.analysis.stats import MeanCI, mean_ci
from trainlab.report.layout import colour as palette_colour
from trainlab.report.records import StudyRecords
from trainlab.report.tables import Table
from trainlab.report.webpage import figure_html
from trainlab.studies.lottery.section import (
    ALPHA,
    BETA,
    LEVEL,
    ONE_SHOT,
    ONE_SHOT_FRESH,
    RANDOM_PRUNE,
    RANDOM_REINIT,
    ROLE,
    START_GRID,
    TICKET,
)

ROLES = {  # each kind of run its own colour of the report's colour-blind-safe palette
    TICKET: ("winning ticket (rewound)", palette_colour(0)),
    RANDOM_REINIT: ("random reinit", palette_colour(1)),
    RANDOM_PRUNE: ("random pruning", palette_colour(2)),
    ONE_SHOT: ("one-shot, recorded init", palette_colour(3)),
    ONE_SHOT_FRESH: ("one-shot, fresh init", palette_colour(4)),
}


def early_stop(records: StudyRecords, run_id: str, by_steps: bool) -> tuple[float, str, bool]:
    """When validation loss is lowest: the iteration, when the run validates every `train.eval_every_steps`
    steps (as Frankle & Carbin measure it), else the epoch; and whether that is the run's last evaluation
    (the loss still falling: the true minimum may lie beyond the run). (Stores written before evaluation
    rounds kept those points as split valid_step.)"""
    steps = records.curve.rows(run_id, "valid_step", "loss")
    if len(steps):
        lowest = steps["value"].idxmin()
        return float(steps.loc[lowest, "step"]), "iteration", bool(lowest == steps.index[-1])
    loss = records.curve(run_id, "valid", "loss", "step" if by_steps else "epoch")
    if not len(loss):
        return math.nan, "iteration" if by_steps else "epoch", False
    at = loss.to_numpy().argmin()
    return float(loss.index[at]), "iteration" if by_steps else "epoch", bool(at == len(loss) - 1)


def lottery_table(records: StudyRecords) -> pd.DataFrame:
    """One row per run: role, level, % remaining, test and valid main metric, when valid loss was lowest."""
    rows = []
    for r in records.runs.itertuples():
        facts = json.loads(r.facts)
        stop, unit, at_end = early_stop(records, r.id, records.step_based)
        rows.append(
            {
                "role": r.changes.get(ROLE, TICKET),
                "level": int(r.changes.get(LEVEL, 0)),
                "seed": r.seed,
                "remaining": 100 * facts.get("remaining", {}).get("total", 1.0),
                "test": r.test_metric,
                "valid": r.valid_metric,
                "stop": stop,
                "stop_unit": unit,
                "stop_at_end": at_end,
                "id": r.id,
                "alpha": r.changes.get(ALPHA),
                "beta": r.changes.get(BETA),
            }
        )
    return pd.DataFrame(rows)


def start_grid_figure(records: StudyRecords, table: pd.DataFrame) -> Figure | None:
    """Heat maps over (α, β) of the best validation metric and of the epochs needed to come within 1 % of
    the dense run's best (the POSTECH study's 'winning starting points'); means over seeds."""
    grid = table[table["role"] == START_GRID].copy()
    if grid.empty:
        return None
    dense = table[(table["role"] == TICKET) & (table["level"] == 0)].set_index("seed")["valid"]
    grid["to_target"] = [
        first_reaching(
            records.curve(r.id, "valid", records.main_metric),
            within_target(dense.get(r.seed, math.nan), records.mode, 0.01),
            records.mode,
        )
        for r in grid.itertuples()
    ]
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    for ax, column, label in zip(
        fig.subplots(1, 2),
        ("valid", "to_target"),
        (f"best valid {records.main_metric}", "epochs to within 1 % of the dense run's best"),
    ):
        pivot = grid.pivot_table(index="beta", columns="alpha", values=column, aggfunc="mean")
        image = ax.imshow(pivot.to_numpy(), origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(pivot.columns)), [f"{a:g}" for a in pivot.columns])
        ax.set_yticks(range(len(pivot.index)), [f"{b:g}" for b in pivot.index])
        ax.set_xlabel("α (toward the trained weights)")
        ax.set_ylabel("β (random direction)")
        for (i, j), value in np.ndenumerate(pivot.to_numpy()):
            ax.text(j, i, "-" if math.isnan(value) else f"{value:.3g}", ha="center", va="center", color="w", fontsize=8)
        fig.colorbar(image, ax=ax, label=label)
    return fig


def _by_point(table: pd.DataFrame, role: str, column: str) -> list[tuple[float, MeanCI]]:
    """(% remaining, mean ± CI over seeds) per level of one role, densest first."""
    rows = table[table["role"] == role]
    out = [(float(g["remaining"].mean()), mean_ci(g[column].tolist())) for _, g in rows.groupby("level")]
    return sorted(out, key=lambda p: -p[0])


def sparsity_figure(table: pd.DataFrame, metric: str) -> Figure:
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    unit = table["stop_unit"].iloc[0]
    for ax, column, label in zip(
        fig.subplots(1, 2),
        ("test", "stop"),
        (f"test {metric} (best-valid checkpoint)", f"{unit} of minimum valid loss"),
    ):
        for role, (name, colour) in ROLES.items():
            points = [(x, s) for x, s in _by_point(table, role, column) if not math.isnan(s.mean)]
            if role in (RANDOM_REINIT, RANDOM_PRUNE):  # controls start from the dense point too
                points = _by_point(table, TICKET, column)[:1] + points if points else []
            if not points:
                continue
            xs, stats = [p[0] for p in points], [p[1] for p in points]
            ax.plot(
                xs,
                [s.mean for s in stats],
                "o-" if role not in (ONE_SHOT, ONE_SHOT_FRESH) else "s",
                color=colour,
                label=f"{name} (n={max(s.n for s in stats)})",
                markersize=4,
            )
            if max(s.n for s in stats) > 1:
                ax.fill_between(
                    xs, [s.low for s in stats], [s.high for s in stats], color=colour, alpha=0.15, linewidth=0
                )
        ax.set_xscale("log")
        ax.invert_xaxis()
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlabel("weights remaining (%)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="both")
    labelled = next((ax for ax in fig.axes if ax.get_legend_handles_labels()[0]), None)
    if labelled is not None:  # a study without a test split draws nothing on the left
        labelled.legend(fontsize=8)
    return fig


def layer_table(records: StudyRecords, table: pd.DataFrame) -> Table:
    """Per level (winning tickets, first seed): % of each prunable tensor remaining."""
    tickets = table[(table["role"] == TICKET)].sort_values(["level", "seed"]).drop_duplicates("level")
    per_layer = {
        r.level: json.loads(records.runs.set_index("id").loc[r.id, "facts"]).get("remaining", {})
        for r in tickets.itertuples()
    }
    layers = sorted({k for v in per_layer.values() for k in v if k != "total"})
    rows = [
        [str(level), f"{100 * p.get('total', 1):.2f}", *(f"{100 * p.get(k, 1):.2f}" for k in layers)]
        for level, p in sorted(per_layer.items())
    ]
    return Table(
        "Percentage of weights remaining, per level of the winning tickets and per prunable tensor.",
        ["level", "all", *layers],
        rows,
    )


def _crosses(points: list[tuple[float, MeanCI]], dense: MeanCI, below: bool) -> float | None:
    """The densest % remaining where the mean is below dense and the intervals separate (below=True), or
    the sparsest % remaining down to which every level stays at or above dense, or within its interval."""
    if below:
        return next((x for x, s in points if s.mean < dense.mean and (s.n < 2 or s.high < dense.low)), None)
    ok = None
    for x, s in points:
        if s.mean >= dense.mean or (s.n > 1 and s.high >= dense.low):
            ok = x
        else:
            break
    return ok


def lottery_findings(table: pd.DataFrame, metric: str) -> list[str]:
    tickets = _by_point(table, TICKET, "test")
    if len(tickets) < 2:
        return []
    dense = tickets[0][1]
    out = []
    down_to = _crosses(tickets[1:], dense, below=False)
    out.append(
        f"Winning tickets stay at or above the dense network's test {metric} ({dense.text()}) "
        + (f"down to {down_to:.1f} % of weights remaining." if down_to else "at no pruning level.")
    )
    x, peak = max(tickets[1:], key=lambda p: p[1].mean)
    out.append(
        f"Tickets peak at {x:.1f} % remaining with {peak.text()}, {100 * (peak.mean - dense.mean):+.2f} points "
        f"against dense."
    )
    stops = dict(_by_point(table, TICKET, "stop"))
    near21 = min(stops, key=lambda r: abs(math.log(r / 21))) if len(stops) > 1 else None
    if near21 is not None and near21 != 100 and stops[100].mean:
        change = 100 * (1 - stops[near21].mean / stops[100].mean)
        unit = table["stop_unit"].iloc[0]
        out.append(
            f"At {near21:.1f} % remaining, validation loss is lowest at {unit} {stops[near21].text(0)} against "
            f"{stops[100].text(0)} for dense: {abs(change):.0f} % {'earlier' if change >= 0 else 'later'}."
            + _at_end_hedge(table, near21, unit)
        )
    for role in (RANDOM_REINIT, RANDOM_PRUNE):
        controls = _by_point(table, role, "test")
        if controls:
            below = _crosses(controls, dense, below=True)
            name = ROLES[role][0]
            out.append(
                f"With {name}, test {metric} falls below dense "
                + (f"from {below:.1f} % remaining ({dict(controls)[below].text()})." if below else "at no level tried.")
            )
    if dense.n < 2:  # every comparison above is of single runs
        out = [f"{text[:-1]} (one seed)." for text in out]
        out.append(
            "One seed per level: the differences above come without intervals and may be noise; more seeds "
            "(`seeds:` in the study) would tell."
        )
    return out


def _at_end_hedge(table: pd.DataFrame, remaining: float, unit: str) -> str:
    """What the early-stopping comparison rests on when a run's lowest validation loss is its last evaluation:
    its loss was still falling, so the run's end, not its minimum, sets that point."""
    tickets = table[table["role"] == TICKET]
    level = (tickets.groupby("level")["remaining"].mean() - remaining).abs().idxmin()
    compared = tickets[tickets["level"].isin([0, level])]
    if not compared["stop_at_end"].any():
        return ""
    return (
        f" For {int(compared['stop_at_end'].sum())} of these {len(compared)} runs the lowest point is the last "
        f"evaluation (the loss still falling), so the {unit} compared is where training ended, not a minimum."
    )


def lottery_sections(records: StudyRecords, out) -> list[tuple[str, str]]:  # noqa: ANN001 - out: Path
    table = lottery_table(records)
    figure = sparsity_figure(table, records.main_metric)
    layers = layer_table(records, table)
    layers.save(out, "lottery_layers")
    found = lottery_findings(table, records.main_metric)
    caption = (
        f"Test {records.main_metric} and when validation loss was lowest, against the weights remaining "
        "(log scale); bands: 95 % intervals over seeds."
    )
    sections = [
        (
            "Lottery tickets",
            "<ul>"
            + "".join(f"<li>{html.escape(f)}</li>" for f in found)
            + "</ul>"
            + figure_html(figure, caption, out / "lottery.png")
            + layers.html(),
        )
    ]
    grid = start_grid_figure(records, table)
    if grid is not None:
        sections.append(
            (
                "Starting points",
                figure_html(
                    grid,
                    "Training from w0 + αx + βy: x = w* - w0 of the dense run, y a filter-normalised random direction.",
                    out / "start_grid.png",
                ),
            )
        )
    return sections
