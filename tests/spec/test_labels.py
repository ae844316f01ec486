"""Experiment labels: the study's own, or short names of the swept values; never part of a run id."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import TINY_BASE
from trainlab.errors import TrainlabError
from trainlab.spec import plan_study
from trainlab.spec.labels import number_text
from trainlab.studies.catalog import catalog, parse_study


def plan(**fields: Any):
    return plan_study(parse_study({"name": "t", "base": TINY_BASE, **fields}), catalog())


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.001, "1e-3"),
        (3e-4, "3e-4"),
        (2.5e-5, "2.5e-5"),
        (0.03, "0.03"),
        (0.3, "0.3"),
        (1.0, "1"),
        (128, "128"),
        (0, "0"),
        (1e6, "1e6"),
    ],
)
def test_numbers_are_written_short(value: float, text: str) -> None:
    """Small and large numbers in mantissa-exponent form, others as written."""
    assert number_text(value) == text


def test_generated_labels_name_only_the_swept_keys_and_spell_out_the_base() -> None:
    """A grid over optimizer and learning rate gives 'nesterov, lr 1e-3'; an entry that keeps the base's
    schedule says which schedule that is instead of 'base'."""
    runs = plan(
        runs=[{"schedule.name": "none"}, {}], grid={"optim.name": ["sgd", "nesterov"], "optim.lr": [0.001, 0.1]}
    )
    labels = [r.label for r in runs]
    assert labels[:4] == [
        "sgd, schedule none, lr 1e-3",
        "sgd, schedule none, lr 0.1",
        "nesterov, schedule none, lr 1e-3",
        "nesterov, schedule none, lr 0.1",
    ]
    assert labels[4] == "sgd, schedule plateau, lr 1e-3"  # TINY_BASE's own schedule, named


def test_given_labels_replace_the_generated_ones_and_leave_ids_alone() -> None:
    """`label:` on a run entry names what the entry sets; {value, label} names a grid value; the ids are
    those of the same study without labels."""
    plain = plan(runs=[{"optim.name": "adam"}], grid={"optim.lr": [0.001, 0.01]})
    labelled = plan(
        runs=[{"optim.name": "adam", "label": "Adam"}], grid={"optim.lr": [{"value": 0.001, "label": "slow"}, 0.01]}
    )
    assert [r.id for r in labelled] == [r.id for r in plain]
    assert [r.label for r in labelled] == ["Adam, slow", "Adam, lr 0.01"]
    assert [r.label for r in plain] == ["adam, lr 1e-3", "adam, lr 0.01"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"runs": [{"label": 3}]}, r"runs\[1\]\.label: must be a string \(got 3\)"),
        (
            {"grid": {"optim.lr": [{"value": 0.1, "name": "x"}]}},
            r"optim\.lr: a labelled value is written \{value: V, label: TEXT\}",
        ),
    ],
)
def test_malformed_labels_fail_in_one_line(fields: dict[str, Any], message: str) -> None:
    """A label that is not text, or a labelled grid value with other keys, names where it is."""
    with pytest.raises(TrainlabError, match=message):
        plan(**fields)
