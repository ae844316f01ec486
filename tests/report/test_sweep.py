"""Sweep reports on made-up stores: the best-setting table against a hand computation, the response
figures, tuned vs untuned rankings, readable labels and figures that wrap at four panels."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure
from scipy import stats

from trainlab.errors import TrainlabError
from trainlab.report import figures, standard_sections, write_report
from trainlab.report.records import load_records
from trainlab.report.sweep import best_setting_table, heatmap_figure, response_figure, sweep_findings
from trainlab.store import Store
from trainlab.store.synthetic import BASE, MadeUpRun, sweep, write_study

# Best valid accuracy of each (optimizer, learning rate); seed 0 gets 0.01 less, seed 1 0.01 more.
BEST = {
    ("sgd", 0.001): 0.60,
    ("sgd", 0.01): 0.70,
    ("sgd", 0.1): 0.80,
    ("momentum", 0.001): 0.65,
    ("momentum", 0.01): 0.85,
    ("momentum", 0.1): 0.75,
    ("adam", 0.001): 0.90,
    ("adam", 0.01): 0.82,
    ("adam", 0.1): 0.50,
}
HALF = stats.t.ppf(0.975, 1) * 2e-4**0.5 / 2**0.5  # two seeds at v ± 0.01: s = √2·0.01, half-width t·s/√2


def made_up(tmp_path: Path) -> Store:
    runs = []
    for number, ((name, lr), best) in enumerate(BEST.items(), 1):
        for seed, offset in ((0, -0.01), (1, 0.01)):
            v = best + offset
            runs.append(
                MadeUpRun(number, seed, {"optim.name": name, "optim.lr": lr}, f"{name} {lr}", [v - 0.2, v - 0.1, v])
            )
    store = Store(tmp_path / "store")
    write_study(store, "sweep", runs)  # the base's learning rate is 0.01 (BASE)
    return store


def test_best_setting_per_optimizer_matches_a_hand_computation(tmp_path: Path) -> None:
    """adam at lr 1e-3 (0.90), momentum at 0.01 (0.85), sgd at 0.1 (0.80), each with its runner-up."""
    table = best_setting_table(load_records(made_up(tmp_path), "sweep"))
    ci = f" ± {HALF:.4f} (n=2)"
    assert [r[:4] for r in table.rows] == [
        ["1", "adam", "lr 1e-3", f"0.9000{ci}"],
        ["2", "momentum", "lr 0.01", f"0.8500{ci}"],
        ["3", "sgd", "lr 0.1", f"0.8000{ci}"],
    ]
    assert [r[5:] for r in table.rows] == [
        ["3", "lr 0.01", f"0.8200{ci}"],
        ["3", "lr 0.1", f"0.7500{ci}"],
        ["3", "lr 0.01", f"0.7000{ci}"],
    ]
    assert table.bold == {(0, 3)} and "grouped by optim.name" in table.caption


def test_findings_say_the_untuned_ranking_differs(tmp_path: Path) -> None:
    """At the base's shared lr 0.01 momentum (0.85) beats adam (0.82): not the tuned order adam > momentum."""
    tuned, untuned = sweep_findings(load_records(made_up(tmp_path), "sweep"))
    assert tuned.startswith("At each group's best setting: adam (lr 1e-3) 0.9000") and "momentum (lr 0.01)" in tuned
    assert "optim.lr = 0.01" in untuned and untuned.index("momentum") < untuned.index("adam") < untuned.index("sgd")
    assert "a different ranking" in untuned


def test_response_figure_draws_a_line_per_optimizer_on_a_log_axis_with_the_best_starred(tmp_path: Path) -> None:
    """Learning rates spanning two decades get a log axis; each optimizer's line goes through its means."""
    fig = response_figure(load_records(made_up(tmp_path), "sweep"), "optim.lr")
    (ax,) = fig.axes
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["adam (n=2)"].get_ydata()) == pytest.approx([0.90, 0.82, 0.50])
    assert list(lines["best: adam 0.001"].get_ydata()) == pytest.approx([0.90])


def _columns(fig: Figure) -> int:
    """How many panels stand side by side (visible axes with distinct left edges; colour bars aside)."""
    return len(
        {round(ax.get_position().x0, 3) for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"}
    )


def test_no_figure_is_wider_than_four_panels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 15-optimizer sweep: small multiples and heat maps wrap into rows of four; the page's figures stay
    narrow (PNGs at 110 dpi, the page's resolution)."""
    store = Store(tmp_path / "store")
    names = [f"opt{i}" for i in range(15)]
    write_study(
        store,
        "wide",
        [r for r in sweep(["sgd"], [0.001, 0.01, 0.1], 1, 4)]
        + [MadeUpRun(100 + i, 0, {"optim.name": n}, n, [0.5, 0.6]) for i, n in enumerate(names)],
    )
    records = load_records(store, "wide")
    for fig, _ in figures.architecture_figures(records, "epoch"):
        fig.canvas.draw()
        assert _columns(fig) <= 4
    two = [
        MadeUpRun(i * 3 + j + 1, 0, {"optim.name": f"o{i}", "optim.lr": lr, "optim.weight_decay": wd}, "x", [0.5])
        for i in range(6)
        for j, (lr, wd) in enumerate([(0.1, 0.0), (0.01, 0.1), (0.1, 0.1)])
    ]
    write_study(store, "pairs", two)
    heat = heatmap_figure(load_records(store, "pairs"), "optim.lr", "optim.weight_decay")
    heat.canvas.draw()
    assert _columns(heat) <= 4
    widths: list[float] = []  # every figure the page saves, measured instead of rendered (seconds each)
    monkeypatch.setattr(Figure, "savefig", lambda fig, *args, **kwargs: widths.append(fig.get_size_inches()[0] * 110))
    write_report(store, "wide", tmp_path / "report", standard_sections)
    assert widths and max(widths) <= 4 * 3.6 * 110 + 200, widths


def test_many_configurations_show_the_best_in_colour_and_the_rest_grey(tmp_path: Path) -> None:
    """Beyond eight experiments, the overlay names the best eight and draws the others thin and grey."""
    store = Store(tmp_path / "store")
    write_study(store, "many", sweep(["sgd", "adam", "nesterov"], [1e-4, 1e-3, 1e-2, 1e-1, 1.0], 1, 5))
    records = load_records(store, "many")
    fig = figures.learning_curves(records, "epoch")
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(labels) == 9 and labels[-1] == "7 other experiments (grey)"
    best = records.ranked_experiments()[0]
    assert labels[0].startswith(f"{best}: ")
    assert fig.axes[1].get_yscale() == "linear"  # accuracy is never drawn on a log axis


def test_group_must_name_a_config_key(tmp_path: Path) -> None:
    """--group with a key the runs do not have fails in one line that lists the keys the study varies."""
    with pytest.raises(
        TrainlabError, match=r"--group: 'optim.nam' is not a config key .*keys it varies: optim.name, optim.lr"
    ):
        load_records(made_up(tmp_path), "sweep", group=("optim.nam",))


def test_base_values_are_spelled_out(tmp_path: Path) -> None:
    """The made-up base (BASE) is what `write_study` gives runs without changes: sgd at lr 0.01."""
    store = Store(tmp_path / "store")
    write_study(store, "one", [MadeUpRun(1, 0, {}, "sgd, lr 0.01", [0.5, 0.6])])
    records = load_records(store, "one")
    assert records.runs["optim.lr"].iloc[0] == BASE["optim"]["lr"] and records.experiments()[0][1] == "sgd, lr 0.01"
