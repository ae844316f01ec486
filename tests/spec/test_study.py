"""Study files: YAML errors with line numbers, unknown keys with suggestions, value checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainlab.errors import TrainlabError
from trainlab.studies.catalog import load_study, parse_study


def test_invalid_yaml_names_line_and_column(tmp_path: Path) -> None:
    """A YAML syntax error reports file:line:column."""
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nbase:\n  data: {name: a\n  model: b\n")
    with pytest.raises(TrainlabError, match=r"bad\.yaml:\d+:\d+: invalid YAML"):
        load_study(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    """A study path that does not exist says so."""
    with pytest.raises(TrainlabError, match="no such study file"):
        load_study(tmp_path / "nope.yaml")


def test_unknown_top_level_key_suggests_the_closest(tmp_path: Path) -> None:
    """`seed:` instead of `seeds:` gets a did-you-mean and the valid keys."""
    with pytest.raises(TrainlabError, match=r"seed: unknown field \(did you mean seeds\?\); valid: name"):
        parse_study({"name": "x", "base": {}, "seed": [1]})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"base": {}}, "name: Field required"),
        ({"name": "x", "base": {}, "seeds": [1, 1]}, "seeds: must be distinct"),
        ({"name": "x", "base": {}, "seeds": []}, "seeds: must list at least one seed"),
        ({"name": "x", "base": {}, "grid": {"optim.lr": []}}, "optim.lr: needs at least one value"),
        ({"name": "x", "base": {}, "runs": []}, "runs: must list at least one run"),
        (
            {"name": "x", "base": {}, "kind": "nope"},
            "kind: unknown name 'nope'; valid: batch_size, landscape, lottery, nqm, scaling, train",
        ),
        ({"name": "x", "base": {}, "kind": "landscap"}, r"kind: unknown name 'landscap' \(did you mean landscape\?\)"),
        ({"name": "x", "kind": "train"}, "base: a train study needs a base run config"),
        ({"name": "x", "kind": "landscape"}, "landscape: a landscape study needs a landscape section"),
        ({"name": "x", "base": {}, "landscape": {"study": "y"}}, r"landscape: unknown field.*valid: name, description"),
        (["not", "a", "mapping"], "a study must be a mapping"),
    ],
)
def test_study_level_mistakes_are_named(raw: object, message: str) -> None:
    """Each malformed study field is reported with its name."""
    with pytest.raises(TrainlabError, match=message):
        parse_study(raw)


def test_run_entries_may_nest_or_dot(tmp_path: Path) -> None:
    """`{optim: {lr: 1}}` and `{optim.lr: 1}` mean the same run entry."""
    study = parse_study({"name": "x", "base": {}, "runs": [{"optim": {"lr": 1}}, {"optim.lr": 1}]})
    assert study.runs == [{"optim.lr": 1}, {"optim.lr": 1}]
