"""The landscape study's page: which runs, the surfaces computed alike side by side on one colour scale,
then each surface."""

from __future__ import annotations

from pathlib import Path

from trainlab.report import Section, description_html, landscape, landscapes_html
from trainlab.report.records import StudyRecords
from trainlab.report.webpage import figure_html


def landscape_sections(records: StudyRecords, out: Path) -> list[Section]:
    """The page of a landscape study: which runs, the surfaces computed alike side by side on one colour
    scale (also side_by_side_KEY.png and .pdf in `out`), then each surface."""
    summary = f"{description_html(records)}<p>Loss landscapes of {len(records.landscapes)} runs.</p>"
    return [
        ("Summary", summary),
        ("Side by side", _side_by_side(records, out)),
        ("Loss landscapes", landscapes_html(records, include_js=True)),
    ]


def _side_by_side(records: StudyRecords, out: Path) -> str:
    """One figure per group of landscapes made with the same request (directions, range, grid, checkpoint)."""
    groups: dict[str, list[tuple[str, Path]]] = {}
    for run_id, folder in records.landscapes:
        groups.setdefault(folder.name, []).append((run_id, folder))  # the folder is named by the request's hash
    parts = []
    for key, members in groups.items():
        if len(members) < 2:
            continue
        spec = landscape.load(members[0][1])[0]
        labels = records.runs.set_index("id")["label"]
        titles = [f"{labels.get(rid, rid)} [{rid[:8]}]" for rid, _ in members]
        fig = landscape.side_by_side([f for _, f in members], titles, spec["metrics"][0])
        parts.append(
            figure_html(
                fig,
                f"{spec['metrics'][0]} around each run on one colour scale "
                f"({spec['dirs']} directions, range {spec['range']}, request {key}).",
                out / f"side_by_side_{key}.png",
            )
        )
    return "".join(parts) or "<p>Each request covers a single run.</p>"
