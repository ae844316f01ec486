"""Study files: YAML errors with line numbers, unknown keys with suggestions, value checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import assert_user_error, run_cli
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


def _laughs(level: int) -> str:
    items = [f"*l{level - 1}" if level else "lol"] * 9
    return f"l{level}: &l{level} [{', '.join(items)}]\n"


BOMB = "name: bomb\nbase: {}\n" + "".join(_laughs(i) for i in range(9))  # 9^9 values behind *l8


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BOMB + "description: *l8\n", "invalid YAML: holds more than 100,000 values once its aliases are expanded"),
        (BOMB + "runs: [{label: *l8}]\n", "holds more than 100,000 values"),
        ("[" * 100_000 + "]" * 100_000, "invalid YAML: nested too deeply (more than 100 levels)"),
        ("name: a\nbase: {}\nname: b\n", "bomb.yaml:3:1: invalid YAML: duplicate key 'name'"),
        ("name: a\nbase: {optim: {lr: 0.1, lr: 0.2}}\n", "bomb.yaml:2:25: invalid YAML: duplicate key 'lr'"),
        ("a: &a [*a]\n", "invalid YAML: a value contains itself"),
    ],
)
def test_hostile_yaml_is_refused_in_one_line_at_once(tmp_path: Path, text: str, message: str) -> None:
    """A 500-byte billion laughs (under description or a run's label it once kept `check` busy past a
    minute), 100,000 nested brackets (a RecursionError traceback), a key given twice (the last one was
    silently taken), a self-referring alias: one line, exit 2."""
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    assert_user_error(run_cli("check", str(path)), message)


def test_a_binary_file_is_not_a_study(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 (once a UnicodeDecodeError traceback) and a folder: one line each."""
    path = tmp_path / "model.pt"
    path.write_bytes(b"PK\x03\x04\xff\xfe\x00binary")
    assert_user_error(run_cli("check", str(path)), "model.pt: not a text file (byte 4 is not UTF-8)")
    assert_user_error(run_cli("check", str(tmp_path)), "a folder, not a study file")


def test_yaml_anchors_and_merges_still_work(tmp_path: Path) -> None:
    """What the limits leave alone: an anchor reused by runs, a merge key overriding what it merges."""
    path = tmp_path / "ok.yaml"
    path.write_text("name: ok\nbase: {optim: &fast {name: adam, lr: 0.01}}\nruns: [{optim: {<<: *fast, lr: 0.02}}]\n")
    study = load_study(path)
    assert study.runs == [{"optim.name": "adam", "optim.lr": 0.02}]
