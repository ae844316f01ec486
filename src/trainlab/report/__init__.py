"""Reports read only the store: figures, tables and one self-contained HTML page."""

from __future__ import annotations

import html
from pathlib import Path

from trainlab.report import figures, tables
from trainlab.report.webpage import figure_html, page
from trainlab.report.records import load_records
from trainlab.store import Store


def write_report(store: Store, study: str, out: Path) -> Path:
    """Write figures (PNG, PDF), tables (Markdown, LaTeX, CSV) and index.html into `out`."""
    records = load_records(store, study)
    out.mkdir(parents=True, exist_ok=True)
    sections = []
    description = records.spec.get("description") or ""
    convergence, order = tables.convergence_table(records)
    summary = (
        f"<p>{html.escape(description)}</p><p>{len(records.runs)} runs in {len(records.experiments())} "
        f"experiments. Convergence order (fastest first): experiments {', '.join(map(str, order))}.</p>"
    )
    sections.append(("Summary", summary))
    results = tables.results_table(records)
    for name, table in (("results", results), ("convergence", convergence)):
        (out / f"{name}.md").write_text(table.markdown())
        (out / f"{name}.tex").write_text(table.latex())
        (out / f"{name}.csv").write_text(table.csv())
    sections.append(("Results", results.html()))
    sections.append(("Convergence", convergence.html()))
    figure_parts = []
    for number, (x, what) in enumerate((("epoch", "epochs"), ("wall_s", "cumulative training time")), start=1):
        fig = figures.learning_curves(records, x)
        stem = f"curves_{'epoch' if x == 'epoch' else 'time'}"
        fig.savefig(out / f"{stem}.png", dpi=110)
        fig.savefig(out / f"{stem}.pdf")
        caption = f"Figure {number}: learning curves of study {study} over {what}; dashed: train, solid: valid."
        figure_parts.append(figure_html(fig, caption))
    sections.append(("Learning curves", "".join(figure_parts)))
    index = out / "index.html"
    index.write_text(page(f"{study}", sections, records.spec), encoding="utf-8")
    return index
