"""The scaling study's page: loss against compute per model with its envelope, IsoFLOP profiles and their
minima, N_opt and D_opt against compute with the extrapolation and its interval (the CSC413 method and
Chinchilla's approach 2), and Chinchilla's approach 3 with bootstrap intervals and residuals."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from trainlab.analysis.isoflop import Line, ModelCurve, Profile, Smooth, fit_line, profile, smooth
from trainlab.report.layout import colour as palette_colour
from trainlab.report.records import StudyRecords
from trainlab.report.tables import Table
from trainlab.report.webpage import figure_html
from trainlab.studies.scaling.section import ScalingSection

PARAMS_COLUMN = {"non_embedding": "params_non_embedding", "total": "params_total"}


@dataclass
class Ladder:
    """The study's evaluations as the analyses need them, and what was left out."""

    curves: list[ModelCurve]
    points: pd.DataFrame  # run_id, N, D (tokens or examples seen), C (FLOPs), loss: every valid evaluation
    notes: list[str] = field(default_factory=list)


def _evaluations(records: StudyRecords, run_id: str, params: float) -> pd.DataFrame:
    """A run's valid losses with its parameters N, and the tokens (or examples) D and FLOPs C trained on by
    the end of each evaluation's round (from the round's train rows)."""
    loss = records.curve(run_id, "valid", "loss", "epoch")  # by round

    def by_round(name: str) -> np.ndarray:
        return records.curve(run_id, "train", name, "epoch").reindex(loss.index).to_numpy(dtype=float)

    return pd.DataFrame(
        {"run_id": run_id, "N": params, "D": by_round("seen"), "C": by_round("flops"), "loss": loss.to_numpy()}
    )


def ladder(records: StudyRecords, convention: str) -> Ladder:
    column = PARAMS_COLUMN[convention]
    params = records.runs[column].astype(float)
    points = pd.concat([_evaluations(records, rid, n) for rid, n in zip(records.runs["id"], params)], ignore_index=True)
    good = np.isfinite(points[["N", "D", "C", "loss"]]).all(axis=1) & (points[["N", "D", "C", "loss"]] > 0).all(axis=1)
    notes = (
        [f"{int((~good).sum())} evaluations with a missing or non-finite loss, FLOPs or token count left out"]
        if (~good).any()
        else []
    )
    points = points[good]
    curves = []
    for number, label, runs in records.experiments():
        mine = points[points["run_id"].isin(runs["id"])]
        if len(mine):
            curves.append(
                ModelCurve(
                    f"{number}: N = {mine['N'].iloc[0]:,.0f}",
                    float(mine["N"].iloc[0]),
                    mine["C"].to_numpy(),
                    mine["D"].to_numpy(),
                    mine["loss"].to_numpy(),
                )
            )
    return Ladder(curves, points.reset_index(drop=True), notes)


@dataclass
class Analysis:
    ladder: Ladder
    smooths: list[Smooth]
    profiles: list[Profile]
    n_line: Line | None
    d_line: Line | None
    parametric: object | None  # ScalingFit-like: fit and intervals
    intervals: dict[str, tuple[float, float]]
    target: float | None
    convention: str


def analyse(records: StudyRecords, section: ScalingSection) -> Analysis:
    convention = section.params
    data = ladder(records, convention)
    smooths = [smooth(c) for c in data.curves]
    data.notes += [
        f"model {s.curve.label}: too few evaluations to smooth; its loss between evaluations is "
        "interpolated linearly in log C"
        for s in smooths
        if not s.fitted
    ]
    profiles = [profile(smooths, b) for b in section.budgets]
    low = min((float(c.flops.min()) for c in data.curves), default=math.nan)
    high = max((float(c.flops.max()) for c in data.curves), default=math.nan)
    for p in profiles:
        if p.problem:
            span = f" (the runs cover {low:.3g} to {high:.3g} FLOPs)" if len(p.params) < 3 else ""
            data.notes.append(f"budget {p.budget:.3g} FLOPs: {p.problem}{span}; left out of the fits")
    optima = [p for p in profiles if p.n_opt]
    n_line = d_line = None
    if len(optima) >= 3:
        c = np.array([p.budget for p in optima])
        n_opt = np.array([p.n_opt for p in optima])
        n_line, d_line = fit_line(c, n_opt), fit_line(c, c / (6 * n_opt))
    else:
        data.notes.append(
            f"{len(optima)} budgets have an IsoFLOP minimum; the N_opt line needs 3 (for a slope "
            "with an interval), so none is drawn"
        )
    parametric, intervals = _parametric(data, section)
    return Analysis(data, smooths, profiles, n_line, d_line, parametric, intervals, section.target_flops, convention)


def _parametric(data: Ladder, section: ScalingSection) -> tuple[object | None, dict[str, tuple[float, float]]]:
    """Chinchilla approach 3 on every evaluation (N, D, loss); bootstrap over runs, not points."""
    from trainlab.analysis.scaling import fit_with_intervals

    p = data.points
    if len(p) < 6 or p["N"].nunique() < 3:
        data.notes.append(f"the parametric fit needs 6 evaluations of 3 model sizes ({len(p)} of {p['N'].nunique()})")
        return None, {}
    fit, intervals = fit_with_intervals(
        p["N"], p["D"], p["loss"], section.resamples, section.seed, groups=p["run_id"].to_numpy()
    )
    if not fit.converged:
        data.notes.append(f"the parametric fit did not converge ({fit.message}); its values are shown as found")
    for term, size, name, symbols in (
        (fit.A, p["N"].min() ** fit.alpha, "model-size", "A and α"),
        (fit.B, p["D"].min() ** fit.beta, "data", "B and β"),
    ):
        if term / size < 1e-3 * float(p["loss"].min()):
            data.notes.append(
                f"the parametric fit makes the {name} term negligible over these runs (at most "
                f"{term / size:.2g}), so {symbols} are not determined by them"
            )
    if fit.E < 1e-6 * float(p["loss"].min()):
        data.notes.append(
            "the parametric fit puts the irreducible loss E at 0: the runs are too far from their "
            "floor to identify it, so E and the terms it trades against are poorly determined"
        )
    return fit, intervals


# -- figures -------------------------------------------------------------------------------------------


def loss_vs_flops(a: Analysis) -> Figure:
    fig = Figure(figsize=(7.5, 5), layout="constrained")
    ax = fig.subplots()
    grid = np.geomspace(min(c.flops.min() for c in a.ladder.curves), max(c.flops.max() for c in a.ladder.curves), 200)
    envelope = np.full_like(grid, np.inf)
    for i, s in enumerate(a.smooths):
        colour = palette_colour(i)
        ax.scatter(s.curve.flops, s.curve.loss, s=10, color=colour, alpha=0.6)
        inside = grid[(grid >= s.curve.flops.min()) & (grid <= s.curve.flops.max())]
        fitted = s.predict(inside)
        ax.plot(inside, fitted, color=colour, label=f"experiment {s.curve.label}")
        envelope[np.isin(grid, inside)] = np.minimum(envelope[np.isin(grid, inside)], fitted)
    ax.plot(
        grid[np.isfinite(envelope)],
        envelope[np.isfinite(envelope)],
        "k--",
        linewidth=2,
        label="envelope (best model at each C)",
    )
    for p in a.profiles:
        ax.axvline(p.budget, color="grey", linestyle=":", linewidth=1)
    ax.set(xscale="log", xlabel="cumulative training FLOPs", ylabel="validation loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small")
    return fig


def isoflop_figure(a: Analysis) -> Figure:
    fig = Figure(figsize=(7.5, 5), layout="constrained")
    ax = fig.subplots()
    for i, p in enumerate(x for x in a.profiles if x.coefficients is not None):
        colour = palette_colour(i)
        ax.scatter(p.params, p.loss, color=colour)
        grid = np.geomspace(p.params.min() / 1.5, p.params.max() * 1.5, 100)
        ax.plot(grid, np.polyval(p.coefficients, np.log10(grid)), color=colour, label=f"C = {p.budget:.2g}")
        if p.n_opt:
            ax.plot(
                [p.n_opt],
                [np.polyval(p.coefficients, np.log10(p.n_opt))],
                "*",
                color=colour,
                markersize=14,
                markeredgecolor="black",
            )
    ax.set(xscale="log", xlabel=f"parameters N ({a.convention.replace('_', '-')})", ylabel="validation loss (smoothed)")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small", title="IsoFLOP budget")
    return fig


def optimum_figure(a: Analysis) -> Figure:
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    optima = [p for p in a.profiles if p.n_opt]
    c = np.array([p.budget for p in optima])
    top = max(c.max(), a.target or 0) * 1.5
    grid = np.geomspace(c.min() / 1.5, top, 100)
    for ax, (line, values, what) in zip(
        fig.subplots(1, 2),
        (
            (a.n_line, np.array([p.n_opt for p in optima]), "N_opt"),
            (a.d_line, c / (6 * np.array([p.n_opt for p in optima])), "D_opt"),
        ),
    ):
        ax.scatter(c, values, color="C0", zorder=3, label="IsoFLOP minima")
        ax.plot(grid, line.predict(grid), "C1", label=f"{what} ∝ C^{line.slope:.3f}")
        if line.n > 2:
            low, high = line.band(grid)
            ax.fill_between(grid, low, high, color="C1", alpha=0.2, linewidth=0, label="95 % interval of the line")
        if a.target:
            ax.axvline(a.target, color="grey", linestyle=":")
        ax.set(xscale="log", yscale="log", xlabel="training FLOPs C", ylabel=what)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return fig


def residual_figure(a: Analysis) -> Figure:
    p = a.ladder.points
    r = np.log(p["loss"]) - np.log(a.parametric.predict(p["N"], p["D"]))
    fig = Figure(figsize=(11, 4), layout="constrained")
    for ax, column, what in zip(fig.subplots(1, 2), ("N", "D"), ("parameters N", "tokens (or examples) seen D")):
        ax.scatter(p[column], r, s=8, alpha=0.6)
        ax.axhline(0, color="black", linewidth=1)
        ax.set(xscale="log", xlabel=what, ylabel="log L - log L̂")
        ax.grid(alpha=0.3)
    return fig


# -- tables and findings -------------------------------------------------------------------------------


def _ci(values: tuple[float, float] | None, digits: int = 4) -> str:
    return f" [{values[0]:.{digits}g}, {values[1]:.{digits}g}]" if values else ""


def fits_table(a: Analysis) -> Table:
    table = Table(
        f"Fits (N: {a.convention.replace('_', '-')} parameters; D: tokens, or examples, seen; C: training "
        "FLOPs from the analytic counts). Brackets: 95 % intervals (lines: Student t over the budgets; "
        "parametric: bootstrap over runs).",
        ["method", "quantity", "value"],
    )
    if a.n_line:
        table.rows.append(
            [
                "IsoFLOP line (CSC413, approach 2)",
                "log10 N_opt = a log10 C + k",
                f"a = {a.n_line.slope:.4f}{_ci(a.n_line.slope_interval() if a.n_line.n > 2 else None)}, "
                f"k = {a.n_line.intercept:.4f}",
            ]
        )
        table.rows.append(
            [
                "approach 2",
                "D_opt ∝ C^b",
                f"b = {a.d_line.slope:.4f}{_ci(a.d_line.slope_interval() if a.d_line.n > 2 else None)}",
            ]
        )
        if a.target:
            band = tuple(float(v) for v in a.n_line.band(a.target)) if a.n_line.n > 2 else None
            table.rows.append(
                [
                    "extrapolation",
                    f"N_opt at C = {a.target:.3g}",
                    f"{float(a.n_line.predict(a.target)):,.4g}{_ci(band)}",
                ]
            )
            d = a.target / (6 * float(a.n_line.predict(a.target)))
            table.rows.append(["extrapolation", f"D_opt at C = {a.target:.3g}", f"{d:,.4g} (C / 6 N_opt)"])
    fit = a.parametric
    if fit is not None:
        status = "converged" if fit.converged else f"not converged: {fit.message}"
        for name in ("E", "A", "B", "alpha", "beta"):
            table.rows.append(
                ["parametric (approach 3)", name, f"{getattr(fit, name):.4g}{_ci(a.intervals.get(name))}"]
            )
        table.rows.append(
            ["parametric (approach 3)", "N_opt ∝ C^(β/(α+β))", f"{fit.compute_exponent:.4f}{_ci(a.intervals.get('a'))}"]
        )
        table.rows.append(["parametric (approach 3)", "fit status", status])
    return table


def profiles_table(a: Analysis) -> Table:
    table = Table(
        "IsoFLOP profiles: at each budget, the models whose evaluations reach it, and the minimum of the "
        "quadratic in log10 N through their smoothed losses.",
        ["budget C", "models", "N_opt", "D_opt = C/6N_opt", "loss at N_opt"],
    )
    for p in a.profiles:
        if p.n_opt:
            loss = float(np.polyval(p.coefficients, np.log10(p.n_opt)))
            table.rows.append(
                [
                    f"{p.budget:.3g}",
                    str(len(p.params)),
                    f"{p.n_opt:,.0f}",
                    f"{p.budget / (6 * p.n_opt):,.0f}",
                    f"{loss:.4f}",
                ]
            )
        else:
            table.rows.append([f"{p.budget:.3g}", str(len(p.params)), "-", "-", "-"])
    return table


def findings(a: Analysis) -> list[str]:
    out = []
    if a.n_line:
        text = f"Compute-optimal size from {a.n_line.n} IsoFLOP minima: N_opt ∝ C^{a.n_line.slope:.3f}"
        if a.n_line.n > 2:
            lo, hi = a.n_line.slope_interval()
            text += f" (95 % interval {lo:.3f} to {hi:.3f})"
        text += f", D_opt ∝ C^{a.d_line.slope:.3f}"
        if a.target:
            text += f"; extrapolated to {a.target:.3g} FLOPs, N_opt ≈ {float(a.n_line.predict(a.target)):,.3g}"
            if a.n_line.n > 2:
                lo, hi = (float(v) for v in a.n_line.band(a.target))
                text += f" (95 % interval {lo:,.3g} to {hi:,.3g})"
        out.append(text + ".")
    if a.parametric is not None:
        f = a.parametric
        out.append(
            f"Parametric fit L = E + A/N^α + B/D^β: E = {f.E:.3f}{_ci(a.intervals.get('E'), 3)}, α = {f.alpha:.3f}"
            f"{_ci(a.intervals.get('alpha'), 3)}, β = {f.beta:.3f}{_ci(a.intervals.get('beta'), 3)}, so N_opt ∝ "
            f"C^{f.compute_exponent:.3f}{_ci(a.intervals.get('a'), 3)}"
            + ("" if f.converged else " (the fit did not converge)")
            + "."
        )
    return out + a.ladder.notes


def scaling_sections(records: StudyRecords, section: ScalingSection, out: Path) -> list[tuple[str, str]]:
    a = analyse(records, section)
    if not a.ladder.curves:
        return [("Scaling", "<p>No evaluation carries training FLOPs and tokens seen; nothing to fit.</p>")]
    tables = [profiles_table(a), fits_table(a)]
    for name, table in zip(("isoflop", "scaling_fits"), tables):
        table.save(out, name)
    figures = [
        (
            loss_vs_flops(a),
            "scaling_loss_vs_flops",
            "validation loss against training FLOPs per model (dots: evaluations; lines: a cubic in log-log "
            "through each model's; dashed: the envelope; dotted: the IsoFLOP budgets)",
        ),
        (
            isoflop_figure(a),
            "scaling_isoflop",
            "IsoFLOP profiles: smoothed loss against N at each budget, "
            "with the quadratic in log N and its minimum (star)",
        ),
    ]
    if a.n_line:
        figures.append(
            (
                optimum_figure(a),
                "scaling_optimum",
                "N_opt and D_opt against compute, the fitted lines with "
                "their 95 % intervals, and the extrapolation budget (dotted)",
            )
        )
    if a.parametric is not None:
        figures.append((residual_figure(a), "scaling_residuals", "residuals of the parametric fit in log loss"))
    parts = []
    for fig, stem, caption in figures:
        parts.append(figure_html(fig, caption + ".", out / f"{stem}.png"))
    found = "<ul>" + "".join(f"<li>{html.escape(f)}</li>" for f in findings(a)) + "</ul>"
    return [("Scaling", found + tables[1].html() + tables[0].html() + "".join(parts))]
