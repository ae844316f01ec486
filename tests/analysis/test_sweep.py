"""Groups of a sweep are named as the study names them, so legends, tables and findings agree."""

from __future__ import annotations

import pandas as pd

from trainlab.analysis.sweep import group_names


def _runs(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame({"optim.name": [name for name, _ in rows], "label": [label for _, label in rows]})


def test_a_group_is_named_by_the_label_its_runs_share() -> None:
    """The optimizer sweep: optim.name nesterov, labelled 'Nesterov 0.9, lr ...': the group is 'Nesterov 0.9'."""
    runs = _runs(
        [
            ("nesterov", "Nesterov 0.9, lr 1e-3"),
            ("nesterov", "Nesterov 0.9, lr 0.01"),
            ("adamw", "AdamW (wd 0.01), lr 1e-3"),
            ("adamw", "AdamW (wd 0.01), lr 0.01"),
        ]
    )
    assert list(group_names(runs, ["optim.name"])) == ["Nesterov 0.9"] * 2 + ["AdamW (wd 0.01)"] * 2


def test_labels_that_do_not_tell_groups_apart_leave_the_values() -> None:
    """Labels with nothing shared within a group, the same shared part in two groups, or a group of one
    experiment: the key's values."""
    unshared = _runs([("sgd", "fast"), ("sgd", "slow"), ("adam", "Adam")])
    assert list(group_names(unshared, ["optim.name"])) == ["sgd", "sgd", "adam"]
    alike = _runs([("sgd", "MLP, lr 1"), ("adam", "MLP, lr 2"), ("sgd", "MLP, lr 3"), ("adam", "MLP, lr 4")])
    assert list(group_names(alike, ["optim.name"])) == ["sgd", "adam", "sgd", "adam"]
    assert list(group_names(alike, [])) == ["all"] * 4
    single = _runs([("sgd", "SGD, lr 0.1"), ("adam", "Adam, lr 0.01"), ("adam", "Adam, lr 0.001")])
    assert list(group_names(single, ["optim.name"])) == ["sgd", "adam", "adam"]  # sgd's one label is not its name
