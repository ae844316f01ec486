"""`trainlab show RUN`: everything the store holds about one run."""

from __future__ import annotations

import json
from typing import Any

from trainlab.analysis.summary import summarize_runs
from trainlab.api.common import unique_run
from trainlab.store import Store


def _flops_line(facts: dict[str, Any], cumulative: float | None) -> str | None:
    if "flops_per_unit" not in facts:
        return None
    unit = facts["flops_unit"]
    text = f"{facts['flops_per_unit']:.4g} per {unit} counted by torch"
    if facts.get("flops_per_unit_analytic"):
        text += f", {facts['flops_per_unit_analytic']:.4g} analytic"
    if cumulative is not None and cumulative == cumulative:
        text += f"; {cumulative:.4g} in all"
    return text


def _packed_line(packed: dict[str, int] | None) -> str | None:
    if not packed:
        return None
    return (
        f"in a pack of {packed['members']} runs from epoch {packed['from_epoch']} (its seconds are the pack's, "
        "shared by its members)"
    )


def describe_run(store: Store, prefix: str) -> dict[str, Any]:
    """Everything `trainlab show` prints about one run (a unique id prefix is enough)."""
    run_id = unique_run(store, prefix)
    row = store.run_row(run_id)
    metrics = store.metrics([run_id])
    memberships = store.runs()
    memberships = memberships[memberships["id"] == run_id]
    summary = summarize_runs(memberships.head(1), metrics) if not memberships.empty else None
    epochs = (
        metrics[metrics["split"].isin(["train", "valid"])]
        .assign(key=lambda d: d["split"] + "/" + d["name"])
        .pivot_table(index="epoch", columns="key", values="value", aggfunc="last")
        .reset_index()
    )
    test = {f"{r.split}/{r.name}": r.value for r in metrics[metrics["split"].str.startswith("test")].itertuples()}
    first = summary.iloc[0] if summary is not None else {}
    facts = json.loads(row["facts"])
    return {
        "id": run_id,
        "status": row["status"],
        "epochs_done": row["epochs_done"],
        "parent": f"{row['relation'] or 'child of'} {row['parent_id']}" if row["parent_id"] else None,
        "children": [f"{c['relation'] or 'child of'} this: {c['id']}" for c in store.children(run_id)],
        "studies": [f"{r.study} exp {r.experiment} seed {r.seed}" for r in memberships.itertuples()],
        "device": row["device"],
        "hardware": facts.get("hardware"),
        "params_total": row["params_total"],
        "params_trainable": row["params_trainable"],
        "params_non_embedding": row["params_non_embedding"],
        "best": f"valid {row['main_metric']} {row['best_value']:.4g} at epoch {row['best_epoch']}"
        if row["best_value"] is not None
        else None,
        "train_s_per_epoch": first.get("train_s_per_epoch"),
        "eval_s_per_epoch": first.get("eval_s_per_epoch"),
        "samples_per_s": first.get("samples_per_s"),
        "tokens_per_s": first.get("tokens_per_s"),
        "eval_samples_per_s": first.get("eval_samples_per_s"),
        "eval_tokens_per_s": first.get("eval_tokens_per_s"),
        "memory": {
            k: float(first[k])
            for k in ("peak_rss_mb", "peak_allocated_mb", "peak_reserved_mb", "nvml_used_mb")
            if k in first and first[k] == first[k]
        },
        "test": test,
        "flops": _flops_line(facts, first.get("flops")),
        "memory_analytic": facts.get("memory_analytic"),
        "params_by_module": facts.get("params_by_module"),
        "checkpoints": sorted(
            a["path"].rsplit("/", 1)[1] for a in store.artifacts(run_id) if a["kind"] == "checkpoint"
        ),
        "packed": _packed_line(facts.get("packed")),
        "notes": facts.get("notes"),
        "error": facts.get("error"),
        "folder": str(store.root / "runs" / run_id),
        "config": json.loads(row["config"]),
        "epochs": epochs.to_dict(orient="records"),
    }
