"""The batch-size study's page: steps and examples to a target validation loss for every batch size, each at
its best learning rate; McCandlish et al.'s trade-off S = S_min + E_min/B fitted per group (optimizer) with
the critical batch size B_crit = E_min/S_min and its bootstrap interval; Shallue et al.'s steps-to-target
against batch size; and the simple noise scale measured during training beside B_crit."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from trainlab.analysis.batch_size import TradeOff, bootstrap_b_crit, fit_tradeoff, frontier
from trainlab.analysis.curves import first_reaching
from trainlab.analysis.scaling import interval
from trainlab.analysis.stats import mean_ci
from trainlab.report.layout import colour as palette_colour
from trainlab.report.records import StudyRecords
from trainlab.report.tables import Table
from trainlab.report.webpage import figure_html
from trainlab.studies.batch_size.section import BatchSizeSection


def _at_step(records: StudyRecords, run_id: str, name: str, step: float) -> float:
    """A run's train metric (seen, noise_scale) at the round that ends at `step`."""
    values = records.curve(run_id, "train", name, "step")
    return float(values.get(step, math.nan))


def reach_table(records: StudyRecords, target: float, metric: str, group: str) -> pd.DataFrame:
    """One row per (group, batch size, learning rate): steps and examples to the target, means over seeds
    (inf when a seed never reached it), and the simple noise scale at the target where measured."""
    rows = []
    mode = records.mode if metric == records.main_metric else "min"
    runs = records.runs.set_index("id")
    for rid in runs.index:
        step = first_reaching(records.curve(rid, "valid", metric, "step"), target, mode)
        reached = not math.isnan(step)
        rows.append(
            {
                "group": str(runs.at[rid, group]) if group in runs else "all",
                "batch": float(runs.at[rid, "train.batch_size"]),
                "lr": float(runs.at[rid, "optim.lr"]),
                "steps": step if reached else math.inf,
                "examples": _at_step(records, rid, "seen", step) if reached else math.inf,
                "noise_scale": _at_step(records, rid, "noise_scale", step) if reached else math.nan,
            }
        )
    table = pd.DataFrame(rows)
    return table.groupby(["group", "batch", "lr"], as_index=False).agg(
        steps=("steps", "mean"),
        examples=("examples", "mean"),
        noise_scale=("noise_scale", "mean"),
        seeds=("steps", "size"),
    )


@dataclass
class GroupFit:
    group: str
    points: pd.DataFrame  # the frontier
    fit: TradeOff | None
    b_crit_interval: tuple[float, float] | None


def fit_groups(table: pd.DataFrame, resamples: int, seed: int) -> list[GroupFit]:
    out = []
    for group, rows in table.groupby("group", sort=True):
        points = frontier(rows)
        if points["batch"].nunique() < 2:
            out.append(GroupFit(str(group), points, None, None))
            continue
        fit = fit_tradeoff(points["batch"], points["steps"])
        ci = (
            interval(bootstrap_b_crit(points["batch"], points["steps"], resamples, seed))
            if resamples and len(points) > 2
            else None
        )
        out.append(GroupFit(str(group), points, fit, ci))
    return out


def tradeoff_figure(fits: list[GroupFit], unit: str) -> Figure:
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    for i, g in enumerate(fits):
        colour = palette_colour(i)
        p = g.points
        left.scatter(p["examples"], p["steps"], color=colour, label=g.group)
        right.scatter(p["batch"], p["steps"], color=colour, label=g.group)
        if g.fit:
            b = np.geomspace(p["batch"].min() / 2, p["batch"].max() * 2, 100)
            s = g.fit.steps(b)
            left.plot(b * s, s, color=colour, linestyle="--", label=f"{g.group}: B_crit = {g.fit.b_crit:,.0f}")
            right.plot(b, s, color=colour, linestyle="--")
            right.axvline(g.fit.b_crit, color=colour, linestyle=":", linewidth=1)
    if fits and len(fits[0].points):
        p = fits[0].points.iloc[0]
        b = np.geomspace(p["batch"], max(g.points["batch"].max() for g in fits if len(g.points)), 50)
        right.plot(b, p["steps"] * p["batch"] / b, color="grey", linewidth=1, label="perfect scaling (S ∝ 1/B)")
    left.set(xscale="log", yscale="log", xlabel=f"{unit} to target (E)", ylabel="steps to target (S)")
    right.set(xscale="log", yscale="log", xlabel="batch size B", ylabel="steps to target")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return fig


def frontier_table(fits: list[GroupFit], unit: str) -> Table:
    table = Table(
        f"Per group and batch size, the learning rate that reached the target in the fewest steps, with "
        f"those steps and the {unit} seen (means over seeds).",
        ["group", "batch", "best lr", "steps", unit],
    )
    for g in fits:
        for r in g.points.itertuples():
            table.rows.append([g.group, f"{r.batch:,.0f}", f"{r.lr:.3g}", f"{r.steps:,.0f}", f"{r.examples:,.0f}"])
    return table


def findings(fits: list[GroupFit], target: float, metric: str, unit: str) -> list[str]:
    out = []
    for g in fits:
        if g.fit is None:
            out.append(f"{g.group}: fewer than two batch sizes reached valid {metric} {target:g}; no trade-off to fit.")
            continue
        text = (
            f"{g.group}: S = S_min + E_min/B with S_min = {g.fit.s_min:,.0f} steps and E_min = {g.fit.e_min:,.0f} "
            f"{unit}, so B_crit = E_min/S_min = {g.fit.b_crit:,.0f} {unit}"
        )
        if g.b_crit_interval:
            text += f" (95 % bootstrap interval {g.b_crit_interval[0]:,.0f} to {g.b_crit_interval[1]:,.0f})"
        if not g.fit.converged:
            text += "; the fit did not converge"
        noise = g.points["noise_scale"].dropna()
        if len(noise):
            ci = mean_ci(noise.tolist())
            spread = f" ± {ci.half_width:,.0f} (95 % interval over {ci.n} runs)" if ci.n > 1 else ""
            text += (
                f". The simple noise scale at the target, on the frontier's runs, is {ci.mean:,.0f}{spread} {unit} "
                f"(McCandlish et al. expect B_simple ≈ B_crit)"
            )
        out.append(text + ".")
    fitted = [g for g in fits if g.fit]
    if len(fitted) > 1:
        order = sorted(fitted, key=lambda g: -g.fit.b_crit)
        out.append(
            "Critical batch size, largest first: " + " > ".join(f"{g.group} ({g.fit.b_crit:,.0f})" for g in order) + "."
        )
    return out


def batch_size_sections(records: StudyRecords, out: Path, section: BatchSizeSection) -> list[tuple[str, str]]:
    target, metric = section.target, section.metric
    unit = "tokens" if records.x_label("seen") == "tokens seen" else "examples"
    table = reach_table(records, target, metric, section.group)
    fits = fit_groups(table, section.resamples, section.seed)
    summary = frontier_table(fits, unit)
    summary.save(out, "batch_size")
    figure = tradeoff_figure(fits, unit)
    never = table[~np.isfinite(table["steps"])]
    notes = (
        [f"{len(never)} of {len(table)} (batch size, learning rate) settings never reached the target."]
        if len(never)
        else []
    )
    found = (
        "<ul>"
        + "".join(f"<li>{html.escape(f)}</li>" for f in [*findings(fits, target, metric, unit), *notes])
        + "</ul>"
    )
    caption = (
        f"Left: steps against {unit} to reach valid {metric} {target:g} on the frontier (best learning rate per "
        "batch size), with the fitted S = S_min + E_min/B (dashed). Right: steps to target against batch size "
        "(log-log; Shallue et al. 2018's regimes: perfect scaling along the grey line, then diminishing returns, "
        "then a plateau); dotted: B_crit."
    )
    return [("Batch size", found + figure_html(figure, caption, out / "batch_size.png") + summary.html())]
