"""Report tables on a small store: ordering, bold best, seed CIs by hand, convergence ranking."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pandas as pd

from trainlab.analysis.stats import mean_ci
from trainlab.report.records import StudyRecords
from trainlab.report.tables import convergence_table, hardware_note, packing_note, results_table, spans


def records(valid: dict[tuple[int, int], list[float]], models: dict[int, str]) -> StudyRecords:
    """Synthetic records: (experiment, seed) -> valid accuracy per epoch."""
    runs, metrics = [], []
    for (exp, seed), curve in valid.items():
        rid = f"r{exp}{seed}"
        best_epoch = max(range(len(curve)), key=lambda i: curve[i]) + 1
        runs.append(
            {
                "id": rid,
                "experiment": exp,
                "seed": seed,
                "label": f"exp{exp}",
                "model.name": models[exp],
                "optim.name": "sgd",
                "changes": {"optim.lr": exp},
                "status": "done",
                "main_metric": "accuracy",
                "best_epoch": best_epoch,
                "valid_metric": max(curve),
                "train_metric": 1.0,
                "test_metric": 0.5,
                "train_s_per_epoch": 2.0,
                "eval_s_per_epoch": 0.5,
                "params_total": 100,
                "params_trainable": 100,
                "peak_rss_mb": 10.0,
                "flops": 1e9,
                "samples_per_s": 50.0,
                "tokens_per_s": float("nan"),
                "facts": "{}",
                **dict.fromkeys(("peak_allocated_mb", "peak_reserved_mb", "nvml_used_mb"), float("nan")),
            }
        )
        for epoch, value in enumerate(curve, 1):
            metrics.append(
                {
                    "run_id": rid,
                    "step": epoch,
                    "epoch": epoch,
                    "split": "valid",
                    "name": "accuracy",
                    "value": value,
                    "wall_s": 2.0 * epoch,
                }
            )
    return StudyRecords("s", {}, pd.DataFrame(runs), pd.DataFrame(metrics))


def test_best_valid_per_model_is_bold_and_seed_cells_show_ci() -> None:
    """Bold marks the best valid mean within each model; seeds give mean ± CI (n)."""
    rec = records(
        {(1, 0): [0.5, 0.7], (1, 1): [0.6, 0.8], (2, 0): [0.9, 0.6], (3, 0): [0.4, 0.3]},
        {1: "mlp", 2: "mlp", 3: "vit"},
    )
    table = results_table(rec)
    col = table.header.index("valid accuracy")
    assert [r[0] for r in table.rows] == ["1", "2", "3"]  # mlp before vit, then by optimizer and number
    assert table.bold == {(1, col), (2, col)}
    expected = mean_ci([0.7, 0.8])
    assert table.rows[0][col] == f"{0.75:.4f} ± {expected.half_width:.4f} (n=2)"
    assert "**0.9000**" in table.markdown() and r"\textbf{0.9000}" in table.latex() and "<b>0.9000</b>" in table.html()
    assert "mean ± 95 % confidence interval over n seeds" in table.caption


def test_convergence_ranks_by_seconds_to_within_5_percent() -> None:
    """Target 0.95 × 0.9 = 0.855: exp 2 reaches it at epoch 2 (4 s), exp 1 at epoch 3; exp 3 never."""
    rec = records(
        {(1, 0): [0.5, 0.7, 0.86], (2, 0): [0.6, 0.9, 0.9], (3, 0): [0.1, 0.2, 0.3]}, {1: "a", 2: "a", 3: "a"}
    )
    table, order = convergence_table(rec)
    assert order == [2, 1, 3]
    assert [r[3] for r in table.rows] == ["2.0", "3.0", "-"] and table.rows[0][4] == "4.00"
    assert math.isclose(float(table.caption.split("first reaches ")[1].split(" ")[0]), 0.855)


def test_learning_curves_label_each_experiment_once() -> None:
    """The figure legend lists each experiment once, with n for several seeds; bands are drawn."""
    from trainlab.report.figures import learning_curves

    rec = records({(1, 0): [0.5, 0.7], (1, 1): [0.6, 0.8], (2, 0): [0.9, 0.6]}, {1: "a", 2: "a"})
    loss = rec.metrics.assign(name="loss")
    rec = StudyRecords(rec.name, rec.spec, rec.runs, pd.concat([rec.metrics, loss]))
    fig = learning_curves(rec, "epoch")
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["1: exp1 (n=2)", "2: exp2"]
    assert len(fig.axes[1].collections) == 1  # one confidence band: the experiment with two seeds


def test_results_are_sorted_by_architecture_then_layers_then_optimizer() -> None:
    """Rows follow (model name, layers, optimizer), not the experiment numbers."""
    rec = records(
        {(1, 0): [0.5], (2, 0): [0.6], (3, 0): [0.7], (4, 0): [0.8]}, {1: "vit", 2: "lstm", 3: "vit", 4: "lstm"}
    )
    rec.runs["model.layers"] = [4, 2, 2, 1]
    rec.runs["optim.name"] = ["sgd", "adam", "adam", "sgd"]
    assert [r[0] for r in results_table(rec).rows] == ["4", "2", "3", "1"]


def test_findings_name_their_numbers_and_hedge_overlapping_seeds() -> None:
    """With overlapping 95 % intervals the best-result finding says the seeds do not separate them."""
    from trainlab.report.findings import best_generalisation, optimizer_ranking

    rec = records({(1, 0): [0.70], (1, 1): [0.80], (2, 0): [0.72], (2, 1): [0.76]}, {1: "a", 2: "a"})
    (valid, _test) = best_generalisation(rec)
    assert "experiment 1" in valid and "0.7500 ±" in valid and "do not separate them" in valid
    (ranking,) = optimizer_ranking(rec)
    assert ranking.index("exp 1") < ranking.index("exp 2") and "overlap" in ranking


def test_resources_name_the_hardware_and_warn_when_it_differs() -> None:
    """Times mean little without the machine: one machine is named; runs on two are flagged per experiment."""
    recs = records({(1, 0): [0.5], (2, 0): [0.6]}, {1: "mlp", 2: "mlp"})
    cpu = {"device": "cpu", "device_name": "AMD EPYC", "threads": 2, "native_bf16": True}
    gpu = {"device": "cuda", "device_name": "NVIDIA H100", "threads": 16, "native_bf16": True}
    with_facts = lambda *facts: replace(recs, runs=recs.runs.assign(facts=list(facts)))  # noqa: E731
    assert hardware_note(with_facts(json.dumps({"hardware": cpu}), json.dumps({"hardware": cpu}))) == (
        "Measured on AMD EPYC (cpu, 2 threads)."
    )
    note = hardware_note(with_facts(json.dumps({"hardware": cpu}), json.dumps({"hardware": gpu})))
    assert "different hardware" in note and "AMD EPYC (cpu, 2 threads): exp 1" in note
    assert "NVIDIA H100 (cuda, 16 threads): exp 2" in note
    assert hardware_note(with_facts("{}", "{}")) == ""  # stores written before hardware was recorded


def test_times_of_packed_runs_are_flagged_as_their_packs() -> None:
    """A packed run's seconds are its pack's: the resources and convergence captions say which experiments
    trained packed, and warn when others trained one at a time, as does the finding of the fastest."""
    from trainlab.report.findings import fastest

    recs = records({(1, 0): [0.5], (1, 1): [0.5], (2, 0): [0.6]}, {1: "mlp", 2: "mlp"})
    pack = json.dumps({"packed": {"members": 2, "from_epoch": 1}})
    with_facts = lambda *facts: replace(recs, runs=recs.runs.assign(facts=list(facts)))  # noqa: E731
    assert packing_note(with_facts("{}", json.dumps({"packed": None}), "{}")) == ""
    every = packing_note(with_facts(pack, pack, pack))
    assert every.startswith("Every run trained packed") and "compare" not in every
    mixed = with_facts(pack, "{}", "{}")
    assert packing_note(mixed).startswith("Exp 1 (1 of 2 runs) trained packed") and "the same way" in packing_note(
        mixed
    )
    assert packing_note(with_facts(pack, pack, "{}")).startswith("Exp 1 trained packed")
    assert spans([1, 2, 3, 5, 7, 8]) == ["1-3", "5", "7-8"]
    table, order = convergence_table(mixed)
    assert packing_note(mixed) in table.caption
    assert fastest(mixed, order, table.rows)[0].endswith(packing_note(mixed))  # the finding ranks by seconds
    assert "packed" not in fastest(with_facts(pack, pack, pack), order, table.rows)[0]  # every run alike
