"""The user's own code in a study: models, datasets, tasks, optimizers and kinds named by import path, found
through an installed package's entry points, or registered from Python; validated like built-ins, listed by
`check` with where they came from, covered by run ids, and refused in one line when they cannot be used."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import assert_user_error, run_cli, write_study
from trainlab.api import check_study, planned_runs, plugins_used, run_study
from trainlab.models import MODELS
from trainlab.store import open_store

PLUGIN_BASE = {
    "data": {"name": "tests.plugin_code:blobs", "n": 200},
    "model": {"name": "tests.plugin_code:TinyNet", "width": 8},
    "optim": {"name": "adam", "lr": 0.02},
    "train": {"epochs": 2, "batch_size": 32},
}


def test_a_model_and_a_dataset_by_import_path_train_and_report(tmp_path: Path) -> None:
    """Options from the signature (width, depth; `info` given by trainlab), a grid over them, seeds: trained,
    stored and reported like built-ins; the plan counts the parameters the options make."""
    study = write_study(tmp_path, base=PLUGIN_BASE, grid={"model.depth": [1, 2]}, seeds=[0, 1])
    lines = check_study(study)
    assert [line.params_total for line in lines] == [8 * 8 + 8 + 8 * 3 + 3] * 2 + [8 * 8 + 8 + 72 + 8 * 3 + 3] * 2
    assert {o.status for o in run_study(study)} == {"done"}
    runs = open_store(tmp_path / "store").runs("tiny")
    assert set(runs["model.depth"]) == {1, 2} and (runs["best_value"] > 0.5).all()
    report = run_cli("report", str(study), "--out", str(tmp_path / "report"))
    assert report.returncode == 0 and "± " in (tmp_path / "report" / "index.html").read_text(), report.stderr


def test_check_says_where_each_plugin_came_from(tmp_path: Path) -> None:
    """Import paths, a name registered from Python, an optimizer class of torch by its import path."""
    study = write_study(tmp_path, base={**PLUGIN_BASE, "optim": {"name": "torch.optim:RMSprop", "lr": 0.01}})
    uses = {(u.section, u.name): u for u in plugins_used(study, planned_runs(study))}
    assert set(uses) == {
        ("data", "tests.plugin_code:blobs"),
        ("model", "tests.plugin_code:TinyNet"),
        ("optim", "torch.optim:RMSprop"),
    }
    assert {u.origin for u in uses.values()} == {"import path"} and len(
        uses["model", "tests.plugin_code:TinyNet"].source
    ) == 12
    printed = run_cli("check", str(study))
    assert "plugin model tests.plugin_code:TinyNet: import path, source " in printed.stdout
    assert {o.status for o in run_study(study)} == {"done"}  # RMSprop got lr (and weight_decay, momentum, eps)


def test_a_builder_with_its_own_config_class_is_validated_by_it(tmp_path: Path) -> None:
    """`build_wide(config: WideConfig, info)`: WideConfig's fields are the options; an unknown one is refused
    with "did you mean", a wrong type with the value."""
    base = {**PLUGIN_BASE, "model": {"name": "tests.plugin_code:build_wide", "width": 6}}
    (line,) = check_study(write_study(tmp_path, base=base))
    assert line.params_total == 8 * 6 + 6 + 6 * 3 + 3
    bad = write_study(tmp_path, base={**base, "model": {"name": "tests.plugin_code:build_wide", "widht": 6}})
    assert_user_error(run_cli("check", str(bad)), "model.widht: unknown field (did you mean model.width?)")
    bad = write_study(tmp_path, base={**base, "model": {"name": "tests.plugin_code:build_wide", "width": "six"}})
    assert_user_error(run_cli("check", str(bad)), "model.width: Input should be a valid integer")


def test_a_task_of_the_users_own_trains_and_gets_a_landscape(tmp_path: Path) -> None:
    """A dataset whose DataInfo names a Regression task by import path: trained on mean squared error (lower
    is better, so the best epoch is the lowest), and its landscape is of that loss."""
    base = {
        **PLUGIN_BASE,
        "data": {"name": "tests.plugin_code:sines"},
        "model": {"name": "mlp", "hidden": [16]},
        "train": {"epochs": 4, "batch_size": 32},
    }
    (outcome,) = run_study(write_study(tmp_path, base=base))
    row = open_store(tmp_path / "store").run_row(outcome.id)
    assert row["main_metric"] == "mse" and row["best_value"] < 0.6
    landscape = run_cli(
        "landscape",
        outcome.id[:6],
        "--store",
        str(tmp_path / "store"),
        "--grid",
        "3",
        "--max-batches",
        "1",
        "--metrics",
        "loss",
    )
    assert landscape.returncode == 0, landscape.stderr
    csv = next((tmp_path / "store" / "runs" / outcome.id / "landscape").glob("*/landscape.csv")).read_text()
    assert csv.splitlines()[0] == "epoch,x,y,loss" and len(csv.splitlines()) == 1 + 9


def test_a_name_registered_from_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`trainlab.register_model("tiny", TinyNet)` in a notebook: `model.name: tiny` in the study."""
    import trainlab
    from tests.plugin_code import TinyNet

    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))  # undone after the test
    trainlab.register_model("tiny", TinyNet)
    study = write_study(tmp_path, base={**PLUGIN_BASE, "model": {"name": "tiny", "width": 4}})
    (use,) = [u for u in plugins_used(study, planned_runs(study)) if u.section == "model"]
    assert (use.name, use.origin) == ("tiny", "registered from Python")
    with pytest.raises(trainlab.TrainlabError, match="model 'mlp': a built-in name; register yours under another"):
        trainlab.register_model("mlp", TinyNet)


def _installed(folder: Path, entry_points: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A distribution `own-code 0.1` with these entry points, as pip would leave its metadata."""
    info = folder / "own_code-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: own-code\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    monkeypatch.syspath_prepend(str(folder))


def test_entry_points_of_an_installed_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Names from a package's entry points work in study files and say which package gave them; one that
    fails to load is one line."""
    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))
    _installed(
        tmp_path / "site",
        """
        [trainlab.models]
        tiny = tests.plugin_code:TinyNet
        broken = tests.plugin_code:NoSuchThing
    """,
        monkeypatch,
    )
    study = write_study(tmp_path, base={**PLUGIN_BASE, "model": {"name": "tiny", "width": 4}})
    (use,) = [u for u in plugins_used(study, planned_runs(study)) if u.section == "model"]
    assert use.origin == "entry point of own-code 0.1"
    broken = write_study(tmp_path, base={**PLUGIN_BASE, "model": {"name": "broken"}})
    assert_user_error(
        run_cli("check", str(broken)),
        "entry point 'tests.plugin_code:NoSuchThing' of entry point of own-code 0.1 fails to load",
    )
    unknown = write_study(tmp_path, base={**PLUGIN_BASE, "model": {"name": "tinny"}})
    assert_user_error(run_cli("check", str(unknown)), "model.name: unknown name 'tinny' (did you mean tiny?)")


def test_run_ids_cover_the_plugins_source_or_its_stated_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Editing the module that defines the model makes new runs; with `version:` stated, the version stands for
    the source."""
    source = "from tests.plugin_code import TinyNet as Base\n\n\nclass TinyNet(Base):\n    pass\n"
    (tmp_path / "mine.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))

    def ids(**model: object) -> list[str]:
        MODELS._entries.pop("mine:TinyNet", None)  # a fresh process would read the file again
        sys.modules.pop("mine", None)
        return [
            r.id
            for r in planned_runs(
                write_study(tmp_path, base={**PLUGIN_BASE, "model": {"name": "mine:TinyNet", **model}})
            )
        ]

    first, pinned = ids(), ids(version="1")
    (tmp_path / "mine.py").write_text(source + "# edited\n")
    assert ids() != first and ids(version="1") == pinned


@pytest.mark.parametrize(
    ("section", "value", "message"),
    [
        ("model", {"name": "nope.nets:TinyNet"}, "model 'nope.nets:TinyNet': cannot import nope.nets (No module named"),
        ("model", {"name": "tests.plugin_code:Tiny"}, "tests.plugin_code has no attribute 'Tiny'"),
        ("model", {"name": "tests.plugin_code:not_a_model"}, "built a str, not a torch.nn.Module"),
        ("model", {"name": "tests.plugin_code:raising_model"}, "building it raised ValueError: width 4 is not allowed"),
        ("model", {"name": "tests.plugin_code:kwargs_model"}, "takes *options, so its options cannot be checked"),
        ("data", {"name": "tests.plugin_code:float_labels"}, "labels must be one integer tensor per split"),
        ("data", {"name": "tests.plugin_code:blobs", "n": -5}, "data 'tests.plugin_code:blobs': loading it raised"),
        ("optim", {"name": "tests.plugin_code:blobs"}, "optim 'tests.plugin_code:blobs': building it raised TypeError"),
    ],
)
def test_plugins_that_cannot_be_used_are_one_line(tmp_path: Path, section: str, value: dict, message: str) -> None:
    """Before any training, exit 2, one line; nothing written."""
    result = run_cli("run", str(write_study(tmp_path, base={**PLUGIN_BASE, section: value})))
    assert_user_error(result, message)
    assert not (tmp_path / "store").exists()


def test_a_kind_by_import_path(tmp_path: Path) -> None:
    """`kind: tests.studies.extra_kinds:WarmStartKind`: the test-only kind, never registered, runs."""
    study = write_study(tmp_path, kind="tests.studies.extra_kinds:WarmStartKind", warm_start={"checkpoint": "last"})
    parent, child = check_study(study)
    assert child.relation == "warm start of" and child.parent == parent.id
    assert json.loads(run_cli("check", str(study), "--json").stdout)[1]["parent"] == parent.id


def test_plugin_configs_reach_worker_processes(tmp_path: Path) -> None:
    """A plugin's config (a class made at run time) survives pickling, as a worker receives it."""
    import pickle

    (run,) = planned_runs(write_study(tmp_path, base=PLUGIN_BASE))
    again = pickle.loads(pickle.dumps(run))
    assert again.config == run.config and again.id == run.id and again.config.model.width == 8
