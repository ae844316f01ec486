"""Ids and metrics recorded before the study-kind refactor (issue 10): stores made before it must still
resume and skip. Add cases, never edit them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.trained import Trained
from trainlab.api import planned_runs
from trainlab.store import open_store
from trainlab.studies.catalog import load_study

# `trainlab check --json` ids of every ready-made train study, recorded on 2026-11-24 at 9262fc6.
STUDY_IDS = {
    "fashion-mnist-vit-vs-cnn": [
        "8c4e224fae4a",
        "9a318207f9e7",
        "8f18f677716c",
        "82542a0c99a0",
        "53af4efdd1bd",
        "8831ebe8b59e",
        "7bc5b947adcb",
        "7dabb21ded31",
    ],
    "ift6135-2021-lm": [
        "bcaaa943602c",
        "bc46a86ac6e3",
        "e57c41d598b4",
        "3e6aa6e04d97",
        "d8ed56af282e",
        "cb85d4357aee",
        "f2ce2749789d",
        "426989302477",
        "4c8c7eb2bc78",
        "7459072f97d2",
        "e15b4cac4938",
        "5752a358b5f1",
    ],
    "ift6135-2022-lstm": [
        "bcaaa943602c",
        "bc46a86ac6e3",
        "e57c41d598b4",
        "3e6aa6e04d97",
        "4c8c7eb2bc78",
        "7459072f97d2",
    ],
    "ift6135-2022-vit": [
        "694d5971bd3b",
        "a5b030359bca",
        "06d21e8c1509",
        "eb0a5598929b",
        "743f1db358c8",
        "9b1dc18d44c9",
        "32c5d81c4820",
    ],
    "mnist-mlp": ["6db9c8bf95ab", "6adb9b368b64", "6bda90386751", "ff4e499a084d"],
    "quickstart": ["3b2c72747f0f", "a05f3d588fbe", "1b9f5c1b385b", "65d4844e25e8", "521fc07d9af8", "70b7fb3ccd10"],
    "shakespeare-char": ["2a4175505726"],
    "uva-cnns": ["05ba29d67c7b", "3cbd57eb432c", "1850d6618043", "2d8fdee3cb7f"],
}

# Ready-made studies added after 9262fc6 (translation, lottery, scaling, batch size, sweep): the number of
# units and a digest of their ids in plan order (sha256 of the comma-joined ids, first 16 hex digits),
# recorded on 2026-12-01 at 35bbe5b (those added later: when they were).
LATER_STUDY_IDS = {
    "aiayn-multi30k": (1, "32f8221f3c72a829"),
    "csc413-a3-nmt": (5, "d066e4ecc18948cf"),
    "csc413-scaling": (6, "05e884bbe52d2972"),
    "lth-lenet-mnist-quick": (15, "4893dc2fe53a4e63"),
    "lth-lenet-mnist": (98, "c288b1dcc00c8d0c"),
    "mnist-batch-size": (40, "4448247fbdd0f1d4"),
    "nqm-batch-size": (24, "792722c8d12a4f96"),
    "optimizer-sweep": (75, "d7437ec83b8351d8"),
    "postech-pruned-transformer": (14, "3374fd0a3967cb11"),
    "shakespeare-scaling": (6, "eea16dcc22710426"),
    "csc413-bert": (9, "4a20f69bb5bd7333"),
    "clip-fashion-mnist": (3, "43506e530fed6c70"),  # when they were added
}

# Valid and test metrics of the tiny two-run study (conftest), recorded at 9262fc6 with torch 2.13 on CPU.
TINY_METRICS = {
    ("94668ab205d0", "valid", 1, "loss"): 2.193812221950955,
    ("94668ab205d0", "valid", 2, "loss"): 2.1088719685872395,
    ("94668ab205d0", "valid", 3, "loss"): 1.8650809393988714,
    ("94668ab205d0", "valid", 3, "accuracy"): 0.3333333333333333,
    ("94668ab205d0", "test", 3, "loss"): 1.9236753845214845,
    ("94668ab205d0", "test", 3, "accuracy"): 0.295,
    ("be5fd7690ce4", "valid", 1, "loss"): 2.040956793891059,
    ("be5fd7690ce4", "valid", 2, "loss"): 1.7923190646701388,
    ("be5fd7690ce4", "valid", 3, "loss"): 1.6066290961371528,
    ("be5fd7690ce4", "valid", 3, "accuracy"): 0.45,
    ("be5fd7690ce4", "test", 3, "loss"): 1.6391494750976563,
    ("be5fd7690ce4", "test", 3, "accuracy"): 0.42,
}


# Presets changed on purpose since: their files as recorded (the configs must keep their ids).
# shakespeare-char adopted nanoGPT's sampling, decay and evaluation sample in issue 13.
RECORDED_FILES = {"shakespeare-char": ROOT / "tests" / "golden" / "shakespeare-char-9262fc6.yaml"}

# Later versions of changed presets, recorded as files in tests/golden (count and digest as above):
# shakespeare-char as of d140460 (a 2 x 256-window evaluation sample, then nanoGPT's 20 x 12) and as of
# 4569069 (GPT-2's scaled residual init, then model.init: gpt1).
RECORDED_VERSIONS = {
    "shakespeare-char-d140460": (1, "bb18b2d5caadf46e"),
    "shakespeare-char-4569069": (1, "303cf3949107ff34"),
}


def _count_and_digest(path: Path) -> tuple[int, str]:
    """A study file's number of planned units and the digest of their ids, as recorded above."""
    ids = [unit.id for unit in planned_runs(load_study(path))]
    return len(ids), hashlib.sha256(",".join(ids).encode()).hexdigest()[:16]


@pytest.mark.parametrize("name", sorted(STUDY_IDS))
def test_ready_made_studies_keep_their_run_ids(name: str) -> None:
    """Every run of every ready-made train study has the id it had before study kinds became a registry."""
    study = load_study(RECORDED_FILES.get(name, ROOT / "studies" / f"{name}.yaml"))
    assert [run.id for run in planned_runs(study)] == STUDY_IDS[name]


@pytest.mark.parametrize("name", sorted(LATER_STUDY_IDS))
def test_later_ready_made_studies_keep_their_run_ids(name: str) -> None:
    """Studies added since keep the ids they were first planned with (stores made then still resume)."""
    assert _count_and_digest(ROOT / "studies" / f"{name}.yaml") == LATER_STUDY_IDS[name]


@pytest.mark.parametrize("version", sorted(RECORDED_VERSIONS))
def test_recorded_versions_of_changed_presets_keep_their_run_ids(version: str) -> None:
    """A preset changed since keeps, for stores made with an earlier version, the ids that version gave."""
    assert _count_and_digest(ROOT / "tests" / "golden" / f"{version}.yaml") == RECORDED_VERSIONS[version]


def test_the_tiny_study_trains_to_the_recorded_metrics(trained: Callable[[str], Trained]) -> None:
    """Same seeds, same code path: valid and test metrics equal those recorded before the refactor (the
    seed-0 runs of the session's tiny train study are the two runs recorded)."""
    m = open_store(trained("train").store).metrics()
    got = {(r.run_id, r.split, r.epoch, r.name): r.value for r in m.itertuples()}
    assert {k: got[k] for k in TINY_METRICS} == pytest.approx(TINY_METRICS, rel=1e-6)
