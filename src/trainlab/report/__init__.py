"""Reports read only the store: figures, tables, findings and one self-contained HTML page."""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from trainlab.analysis.curves import AXES
from trainlab.files import write_text_atomic
from trainlab.report import figures, findings, interactive, landscape, sweep, tables
from trainlab.report.records import StudyRecords, load_records
from trainlab.report.webpage import figure_html, page
from trainlab.store import Store


class _Figures:
    """Numbers, saves (PNG, and PDF for papers) and captions the report's figures in order: every figure is
    written both ways."""

    def __init__(self, out: Path) -> None:
        self.out, self.count = out, 0

    def add(self, fig: Figure, stem: str, caption: str) -> str:
        """The figure's HTML; PNG and PDF written beside the page."""
        self.count += 1
        return figure_html(fig, f"Figure {self.count}: {caption}.", self.out / f"{stem}.png")


def _timing(records: StudyRecords) -> str:
    """The end of a caption of times: which runs trained packed, if any (their seconds are their pack's)."""
    note = tables.packing_note(records)
    return f". {note.removesuffix('.')}" if note else ""


def _figures(records: StudyRecords, figs: _Figures) -> str:
    parts = []
    papers = (records.x, "seconds")  # figures per architecture over the chosen axis and time
    for x in [records.x, *(a for a in AXES if a != records.x)]:  # the chosen axis first, then every other
        parts.append(
            figs.add(
                figures.learning_curves(records, x),
                f"curves_{x}",
                f"loss and {records.main_metric} of every experiment of {records.name} over "
                f"{records.x_label(x)} (dashed: train, solid: valid; bands: 95 % CI over seeds)"
                + (_timing(records) if x == "seconds" else ""),
            )
        )
    for x in dict.fromkeys(papers):
        for i, (fig, caption) in enumerate(figures.architecture_figures(records, x), start=1):
            parts.append(figs.add(fig, f"architecture{i}_{x}", caption))
    parts.append(figs.add(figures.learning_rates(records), "learning_rates", "learning rate at each evaluation"))
    parts.append(
        figs.add(
            figures.resource_bars(records),
            "resources",
            "mean training seconds per epoch, peak memory and parameters per experiment (each experiment's colour, "
            "named in the legend; past 16 experiments one colour, by number)" + _timing(records),
        )
    )
    return "".join(parts)


def landscapes_html(records: StudyRecords, include_js: bool) -> str:
    """Each computed landscape of the study's runs: its contour with the trajectory, and an interactive
    3D surface (a slider over epochs when it has several)."""
    parts = []
    for i, (run_id, folder) in enumerate(records.landscapes):
        spec, frames, _ = landscape.load(folder)
        metric = spec["metrics"][0]
        exp = records.runs.loc[records.runs["id"] == run_id, "experiment"].iloc[0]
        title = f"experiment {exp}, run {run_id}: {spec['dirs']} directions, checkpoint {spec['checkpoint']}"
        if "explained_variance" in spec:
            title += f", PCA explains {', '.join(f'{v:.1%}' for v in spec['explained_variance'])}"
        image = folder / f"contour_{metric}.png"
        png = base64.b64encode(image.read_bytes()).decode() if image.exists() else ""
        img = f'<img alt="{html.escape(title)}" src="data:image/png;base64,{png}">' if png else ""
        figure = landscape.surface_figure(frames, metric).to_html(
            full_html=False, include_plotlyjs=include_js and i == 0
        )
        parts.append(f"<h3>{html.escape(title)}</h3>{img}{figure}")
    return "".join(parts)


Section = tuple[str, str]  # (heading, inner HTML)


def standard_sections(
    records: StudyRecords, out: Path, lead: Sequence[str] = (), after_results: Sequence[Section] = ()
) -> list[Section]:
    """The comparison of a grid of runs: findings, results, curves, convergence, resources, figures,
    landscapes; tables also go to `out` as Markdown, LaTeX and CSV, figures as PNG and PDF. A kind adds
    the findings that answer its own question first (`lead`) and its own sections after the results."""
    convergence, order = tables.convergence_table(records)
    results, resources = tables.results_table(records), tables.resources_table(records)
    for name, table in (("results", results), ("resources", resources), ("convergence", convergence)):
        table.save(out, name)
    found = findings.findings(records, order, convergence.rows)
    if records.swept.numeric:
        found[1:1] = sweep.sweep_findings(records)  # after the fastest: the answer a sweep exists for
    found[:0] = lead
    write_text_atomic(out / "findings.md", "".join(f"- {f}\n" for f in found))
    summary = (
        f"{description_html(records)}{completeness_html(records)}<p>{len(records.runs)} runs in "
        f"{len(records.experiments())} experiments"
        f" ({records.n_seeds} seed{'s' if records.n_seeds > 1 else ''} at most per experiment). Convergence order "
        f"(fastest to within 5 % of the best first): experiments {', '.join(map(str, order))}.</p>"
    )
    sections = [
        ("Summary", summary),
        ("Findings", "<ul>" + "".join(f"<li>{html.escape(f)}</li>" for f in found) + "</ul>"),
        ("Results", results.html()),
    ]
    sections += after_results
    figs = _Figures(out)
    if records.swept.numeric:
        sections.append(("Hyperparameter response", sweep.sweep_section(records, figs.add)))
        sweep.best_setting_table(records).save(out, "best_settings")
    sections += [
        ("Interactive curves", interactive.curves_html(records, include_js=True)),
        ("Convergence", convergence.html()),
        ("Resources", resources.html()),
        ("Figures", _figures(records, figs)),
    ]
    if records.samples:
        sections.append(("Translations", _samples(records)))
        _samples_table(records).save(out, "translations")
    if records.landscapes:
        sections.append(("Loss landscapes", landscapes_html(records, include_js=False)))
    return sections


def _samples(records: StudyRecords) -> str:
    """Per experiment (its first seed), the best model's output on the first test sentences."""
    parts = []
    for number, label, runs in records.experiments():
        rid = next((r for r in runs["id"] if r in records.samples), None)
        if rid is None:
            continue
        rows = "".join(
            f"<tr><td>{html.escape(s['source'])}</td><td>{html.escape(s['reference'])}</td>"
            f"<td>{html.escape(s['output'])}</td></tr>"
            for s in records.samples[rid]
        )
        parts.append(
            f"<h3>Experiment {number}: {html.escape(label)} (run {rid})</h3><table><thead><tr><th>source</th>"
            f"<th>reference</th><th>output</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    return "".join(parts)


def _samples_table(records: StudyRecords) -> tables.Table:
    """The translations shown on the page, as a table file too: experiment, source, reference, output."""
    out = tables.Table(
        f"Outputs of each experiment's best model (its first seed) on the first test sentences of {records.name}.",
        ["experiment", "run", "source", "reference", "output"],
    )
    for number, _, runs in records.experiments():
        rid = next((r for r in runs["id"] if r in records.samples), None)
        for sample in records.samples.get(rid, []) if rid else []:
            out.rows.append([str(number), rid, sample["source"], sample["reference"], sample["output"]])
    return out


def completeness_html(records: StudyRecords) -> str:
    """'K of N runs finished', and which are partial or not started."""
    return f"<p><strong>{html.escape(records.completeness.sentence())}</strong></p>" if records.completeness else ""


def description_html(records: StudyRecords) -> str:
    description = records.spec.get("description") or ""
    return f"<p>{html.escape(description)}</p>" if description else ""


def write_report(
    store: Store,
    study: str,
    out: Path,
    sections: Callable[[StudyRecords, Path], list[Section]],
    x: str | None = None,
    group: tuple[str, ...] | None = None,
    include_partial: bool = False,
) -> Path:
    """Write index.html into `out`, with the sections its study kind gives (which may write figures and
    tables beside it); curves, convergence and findings over `x` (a key of AXES; default: steps for
    step-based runs, else epochs); sweep figures and tables grouped by the config keys `group`; runs not
    finished in it only with `include_partial` (the summary says which)."""
    records = load_records(store, study, x, group, include_partial)
    out.mkdir(parents=True, exist_ok=True)
    index = out / "index.html"
    write_text_atomic(index, page(study, sections(records, out), records.spec))
    return index
