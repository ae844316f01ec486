"""Figures a reader can tell apart: within a figure every configuration has its own colour (colour-blind-safe
palette) and its own marker or dash pattern, every coloured figure has a legend, and lines that lie on one
another both stay visible."""

from __future__ import annotations

from pathlib import Path

from matplotlib.colors import to_hex

from trainlab.report import figures
from trainlab.report.layout import COLOURS
from trainlab.report.records import load_records
from trainlab.report.sweep import response_figure
from trainlab.store import Store
from trainlab.store.synthetic import MadeUpRun, sweep, write_study


def _records(tmp_path: Path, name: str, runs: list[MadeUpRun]):  # noqa: ANN202 - StudyRecords
    store = Store(tmp_path / name)
    write_study(store, name, runs)
    return load_records(store, name)


def _drawn(ax) -> list:  # noqa: ANN001 - Axes
    """The lines of an axes that carry a legend entry (valid means of highlighted experiments)."""
    return [line for line in ax.get_lines() if not line.get_label().startswith("_")]


def test_two_experiments_of_one_optimizer_differ_in_colour_and_marker(tmp_path: Path) -> None:
    """The quickstart's case: experiments 1 and 2 are both SGD; each gets its own palette colour and marker,
    in the overlay and in every panel, and the same pair in every figure."""
    runs = [
        MadeUpRun(1, 0, {"optim.name": "sgd", "optim.lr": 0.1}, "SGD fast", [0.5, 0.7, 0.8]),
        MadeUpRun(2, 0, {"optim.name": "sgd", "optim.lr": 0.01}, "SGD slow", [0.4, 0.6, 0.7]),
        MadeUpRun(3, 0, {"optim.name": "adam", "optim.lr": 0.001}, "Adam", [0.6, 0.7, 0.75]),
    ]
    records = _records(tmp_path, "three", runs)
    fig = figures.learning_curves(records, "epoch")
    lines = _drawn(fig.axes[1])
    looks = {(to_hex(line.get_color()), line.get_marker()) for line in lines}
    assert len(lines) == 3 and len(looks) == 3
    assert {c for c, _ in looks} <= {c.lower() for c in COLOURS}
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["1: SGD fast", "2: SGD slow", "3: Adam"]
    style = figures.style(records)
    assert len({c for c, _ in style.values()}) == 3 and len({m for _, m in style.values()}) == 3


def test_lines_drawn_later_are_thinner_and_mark_elsewhere(tmp_path: Path) -> None:
    """Two experiments with the same curve (Adam and AdamW at a small learning rate): the second is drawn
    thinner on top of the first, its markers at other points, so both show."""
    same = [0.5, 0.6, 0.7, 0.72, 0.74, 0.75, 0.76, 0.77, 0.78, 0.79, 0.8, 0.8, 0.81, 0.81, 0.82, 0.82]
    runs = [
        MadeUpRun(1, 0, {"optim.name": "adam"}, "Adam", same),
        MadeUpRun(2, 0, {"optim.name": "adamw"}, "AdamW", same),
    ]
    first, second = _drawn(figures.learning_curves(_records(tmp_path, "same", runs), "epoch").axes[1])
    assert first.get_linewidth() > second.get_linewidth()
    assert first.get_markevery() != second.get_markevery()


def test_response_lines_differ_in_dash_pattern_too(tmp_path: Path) -> None:
    """Lines of the metric against the learning rate: one per optimizer, each with its own colour, marker and
    dash pattern."""
    fig = response_figure(
        _records(tmp_path, "sweep", sweep(["sgd", "momentum", "adam"], [1e-3, 1e-2, 1e-1], 2, 3)), "optim.lr"
    )
    groups = [line for line in _drawn(fig.axes[0]) if not line.get_label().startswith("best")]
    assert len(groups) == 3
    for attribute in ("get_color", "get_marker", "get_linestyle"):
        assert len({str(getattr(line, attribute)()) for line in groups}) == 3, attribute


def test_resource_bars_name_their_colours(tmp_path: Path) -> None:
    """Bars coloured per experiment carry a legend naming each; a study too large to name gets one colour."""
    runs = [MadeUpRun(n, 0, {"optim.lr": 0.1 * n}, f"lr {n}", [0.5, 0.6]) for n in (1, 2, 3)]
    fig = figures.resource_bars(_records(tmp_path, "small", runs))
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["1: lr 1", "2: lr 2", "3: lr 3"]
    many = [MadeUpRun(n, 0, {"optim.lr": 0.01 * n}, f"lr {n}", [0.5, 0.6]) for n in range(1, 21)]
    fig = figures.resource_bars(_records(tmp_path, "many", many))
    assert not fig.legends and len({to_hex(bar.get_facecolor()) for bar in fig.axes[0].patches}) == 1


def test_the_best_eight_of_many_differ_in_colour_and_marker(tmp_path: Path) -> None:
    """Fifteen experiments: the eight drawn in colour have eight colours and eight markers (by rank), the rest
    are grey."""
    records = _records(tmp_path, "many", sweep(["sgd", "adam", "nesterov"], [1e-4, 1e-3, 1e-2, 1e-1, 1.0], 1, 5))
    lines = [
        line for line in _drawn(figures.learning_curves(records, "epoch").axes[1]) if "(grey)" not in line.get_label()
    ]
    assert len(lines) == 8
    assert len({to_hex(line.get_color()) for line in lines}) == 8 and len({line.get_marker() for line in lines}) == 8
