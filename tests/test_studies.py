"""The ready-made studies in studies/ stay valid, and the course presets keep the published sizes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.conftest import ROOT, SHARED
from trainlab.api import check_study, planned_runs
from trainlab.studies.catalog import load_study

STUDIES = sorted((ROOT / "studies").glob("*.yaml"))
OFFLINE = {"clip-fashion-mnist": {"model.pretrained": "tiny-random"}}  # its CLIP is a download; CI runs it so
PRETRAINED = {"hf_encoder": ("transformers", "all_minilm_l6_v2"), "hf_clip": ("transformers",)}


@pytest.fixture(autouse=True)
def _in_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the studies name their data relative to the repository, as users run them


@pytest.mark.e2e  # real data: each preset loads its dataset (the golden tests plan them all in the first tier)
@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.stem)
def test_every_ready_made_study_validates(path: Path, tmp_path: Path) -> None:
    """What `trainlab check` does: every run resolves and its model builds (parameters > 0)."""
    study = load_study(path)
    if study.kind == "landscape":  # checks against the runs of the study it analyses, which must exist
        names = {load_study(p).name for p in STUDIES if p != path}
        assert study.section.study in names
        return
    trained = [r for r in planned_runs(study) if hasattr(r, "config")]  # an nqm study's units are solved, not trained
    needs_data = any(r.config.data.static_info() is None for r in trained)
    if needs_data and not SHARED.exists():
        pytest.skip(f"real data not found at {SHARED}")
    missing = {
        m for r in trained for m in PRETRAINED.get(r.config.model.name, ()) if importlib.util.find_spec(m) is None
    }
    if missing:
        pytest.skip(f"{', '.join(sorted(missing))} not installed (pip install -e '.[transfer]')")
    lines = check_study(study, OFFLINE.get(study.name), store=tmp_path / "store")
    assert lines and all(line.params_total > 0 and line.status == "new" for line in lines)


def test_course_presets_show_the_published_parameter_counts(tmp_path: Path) -> None:
    """IFT6135 2022 ViT configs 1-7 and the UvA Tutorial 5 CNNs, as the courses published them."""
    vit = [line.params_total for line in check_study("studies/ift6135-2022-vit.yaml", store=tmp_path)]
    assert vit == [1_086_730] * 4 + [2_140_938] + [3_195_146] * 2
    cnns = [line.params_total for line in check_study("studies/uva-cnns.yaml", store=tmp_path)]
    assert cnns == [260_650, 272_378, 272_250, 239_146]


@pytest.mark.e2e  # Multi30k: trains its BPE tokenizers
def test_translation_presets_show_parameter_counts_that_follow_the_formula(tmp_path: Path) -> None:
    """CSC413 hidden 32 and 64 (3 + 3 layers, feed-forward 4×) and the CPU-sized AIAYN model: what
    `trainlab check` shows equals the hand-derived count for the data's vocabulary."""
    from tests.models.test_seq2seq import encoder_decoder_formula
    from trainlab.train.build import DataCache

    if not (SHARED / "multi30k").exists():
        pytest.skip(f"real data not found at {SHARED / 'multi30k'}")
    data = DataCache()  # one tokenization per data config, as in a study
    for path, experiments in (
        ("studies/csc413-a3-nmt.yaml", {1: 32, 3: 64}),
        ("studies/aiayn-multi30k.yaml", {1: 256}),
    ):
        runs = {run.experiment: run for run in planned_runs(path)}
        lines = {line.experiment: line for line in check_study(path, store=tmp_path)}
        for number, dim in experiments.items():
            vocab = data.get(runs[number].config).info.num_classes
            hidden, layers = runs[number].config.model.hidden, runs[number].config.model.layers
            assert lines[number].params_total == encoder_decoder_formula(dim, hidden, layers, vocab, pre_norm=True)
