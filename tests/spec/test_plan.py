"""Plans: experiment numbering, grids, overrides, seeds, validation of every key and golden run ids."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import TINY_BASE
from trainlab.data import DATASETS
from trainlab.errors import TrainlabError
from trainlab.models import MODELS
from trainlab.spec import plan_study
from trainlab.studies.catalog import catalog, parse_study


def plan(overrides: dict[str, Any] | None = None, **fields: Any):
    return plan_study(parse_study({"name": "t", "base": TINY_BASE, **fields}), catalog(), overrides)


def test_runs_times_grid_times_seeds_in_experiment_order() -> None:
    """Entries x grid points are numbered entry-major from 1; seeds share the number."""
    runs = plan(
        runs=[{"schedule.name": "none"}, {}],
        grid={"optim.name": ["sgd", "nesterov", "adam"]},
        seeds=[0, 1],
    )
    assert len(runs) == 2 * 3 * 2
    assert [r.experiment for r in runs] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]
    assert [r.seed for r in runs[:2]] == [0, 1]
    assert runs[0].config.schedule.name == "none" and runs[6].config.schedule.name == "plateau"
    assert [r.config.optim.name for r in runs[6::2]] == ["sgd", "nesterov", "adam"]
    assert len({r.id for r in runs}) == len(runs)


def test_seed_is_part_of_the_id_but_not_of_the_changes() -> None:
    """Two seeds of one experiment: different ids, same label (a study sweeping nothing names its base)."""
    a, b = plan(seeds=[3, 4])
    assert a.id != b.id and a.label == b.label == "attention_classifier, sgd"
    assert (a.config.train.seed, b.config.train.seed) == (3, 4)


def test_set_overrides_every_run_and_is_validated() -> None:
    """--set applies after run entries and grid points."""
    runs = plan({"optim.lr": 0.05, "train.epochs": 2}, runs=[{"optim.lr": 0.3}])
    assert runs[0].config.optim.lr == 0.05 and runs[0].config.train.epochs == 2
    with pytest.raises(TrainlabError, match=r"--set: optim\.lrr: unknown field \(did you mean optim\.lr\?\)"):
        plan({"optim.lrr": 0.1})


def test_changing_the_model_name_drops_inherited_options_it_lacks() -> None:
    """A run switching attention_classifier -> mlp keeps nothing the MLP does not accept."""
    (run,) = plan(runs=[{"model.name": "mlp", "model.hidden": [32]}])
    assert run.config.model.name == "mlp" and run.config.model.hidden == (32,)


def test_optimizer_keys_carry_across_optimizer_names() -> None:
    """optim.lr from base survives a switch of optim.name (one shared schema)."""
    (run,) = plan(runs=[{"optim.name": "adam"}])
    assert run.config.optim.lr == 0.1


@pytest.mark.parametrize(
    ("fields", "overrides", "message"),
    [
        ({}, {"optim.lr": -1}, r"optim\.lr: Input should be greater than 0 \(got -1\)"),
        ({}, {"train.batch_size": 0}, r"train\.batch_size: Input should be greater than or equal to 1"),
        ({}, {"train.epochs": 0}, r"train\.epochs: Input should be greater than or equal to 1"),
        ({}, {"data.valid_fraction": 1.0}, r"data\.valid_fraction: Input should be less than 1"),
        ({}, {"data.valid_fraction": 0}, r"data\.valid_fraction: Input should be greater than 0"),
        ({}, {"train.epochs": "many"}, r"train\.epochs: Input should be a valid integer"),
        (
            {},
            {"model.name": "vitt"},
            r"model\.name: unknown name 'vitt' \(did you mean vit\?\); valid: " + re.escape(", ".join(MODELS.names())),
        ),
        ({}, {"optim.name": "adan"}, r"optim\.name: unknown name 'adan' \(did you mean adam\?\); valid: adam, adamw"),
        ({}, {"schedule.name": "cos"}, r"schedule\.name: unknown name 'cos'.*valid: cosine, noam, none, plateau"),
        (
            {},
            {"data.name": "cifarr"},
            r"data\.name: unknown name 'cifarr'.*valid: " + re.escape(", ".join(DATASETS.names())),
        ),
        ({}, {"optimm.lr": 1}, r"optimm\.lr: unknown section 'optimm' \(did you mean optim\?\)"),
        ({"runs": [{"model.dimm": 3}]}, {}, r"runs\[1\]: model\.dimm: unknown field \(did you mean model\.dim\?\)"),
        ({"grid": {"train.epoch": [1]}}, {}, r"grid: train\.epoch: unknown field \(did you mean train\.epochs\?\)"),
        ({}, {"model.heads": 3}, r"model: dim \(16\) must be divisible by heads \(3\)"),
    ],
)
def test_bad_values_name_the_dotted_path(fields: dict, overrides: dict, message: str) -> None:
    """Each invalid value fails before any work with its dotted path and the valid choices."""
    with pytest.raises(TrainlabError, match=message):
        plan(overrides, **fields)


GOLDEN_IDS = {
    # Pinned when written; a failure means existing stores would no longer find their runs.
    # Add new cases, never edit these.
    "tiny base": "94668ab205d0",
    "tiny adam": "be5fd7690ce4",
}


def test_golden_run_ids() -> None:
    """Run ids are stable across releases: hash of the canonical config with defaults left out."""
    base, adam = plan(runs=[{}, {"optim.name": "adam", "optim.lr": 0.01}])
    assert {"tiny base": base.id, "tiny adam": adam.id} == GOLDEN_IDS


def test_run_id_is_the_hash_of_the_non_default_fields() -> None:
    """The id is sha256 of the sorted JSON of non-default fields plus names, written out by hand here."""
    canonical = {
        "data": {"n": 600, "test_n": 200, "name": "teacher_attention"},
        "model": {"dim": 16, "heads": 2, "name": "attention_classifier"},
        "optim": {"lr": 0.1, "name": "sgd"},
        "schedule": {"factor": 0.5, "patience": 1, "name": "plateau"},
        "train": {"epochs": 3, "batch_size": 64},
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    assert plan()[0].id == hashlib.sha256(text.encode()).hexdigest()[:12]


def test_a_default_spelled_out_does_not_rename_the_run() -> None:
    """Writing a default value explicitly gives the same id as leaving it out."""
    (implicit,) = plan()
    (explicit,) = plan(runs=[{"optim.weight_decay": 0.0, "train.clip_grad_norm": None}])
    assert implicit.id == explicit.id


@given(lr=st.floats(1e-6, 10), epochs=st.integers(1, 50))
def test_ids_depend_only_on_the_config(lr: float, epochs: int) -> None:
    """Same config, same id; a different learning rate, a different id."""
    a = plan({"optim.lr": lr, "train.epochs": epochs})[0]
    b = plan({"optim.lr": lr, "train.epochs": epochs})[0]
    c = plan({"optim.lr": lr * 1.5, "train.epochs": epochs})[0]
    assert a.id == b.id != c.id
