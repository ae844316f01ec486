"""Translation end to end: a tiny Pig Latin study trains, decodes, scores BLEU and exact match on valid
and test, keeps sample translations, and reports them; bad translation input is one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import assert_user_error, run_cli, write_study
from tests.data.test_seq2seq import write_parallel
from trainlab.api import report_study, run_study
from trainlab.store import open_store

WORDS = " ".join(f"{a}{b}{c}" for a in "bcdfgs" for b in "aeiou" for c in "tnp")  # 90 words


def tiny_translation(folder: Path, **fields: object) -> Path:
    (folder / "words.txt").write_text(WORDS)
    base = {
        "data": {"name": "pig_latin", "words": str(folder / "words.txt"), "size": 300, "max_words": 2},
        "model": {"name": "transformer_seq2seq", "dim": 16, "heads": 2, "hidden": 32, "layers": 1, "dropout": 0.0},
        "optim": {"name": "adam", "lr": 0.01},
        "train": {"epochs": 2, "batch_size": 32},
    }
    return write_study(folder, base=base, **fields)


def test_a_pig_latin_study_trains_decodes_and_reports(tmp_path: Path) -> None:
    """Both model kinds; valid and test carry BLEU and exact match; samples.json holds the best model's
    translations of the first test sentences; the report shows them and ranks by validation loss."""
    study = tiny_translation(tmp_path, runs=[{}, {"model.name": "decoder_only_seq2seq"}])
    assert [o.status for o in run_study(study)] == ["done", "done"]
    store = open_store(tmp_path / "store")
    m = store.metrics()
    for split in ("valid", "test"):
        names = set(m[m["split"] == split]["name"])
        assert {"loss", "perplexity", "accuracy", "exact_match", "bleu", "tokens_per_s"} <= names
    bleu = m[(m["split"] == "valid") & (m["name"] == "bleu")]["value"]
    assert len(bleu) == 4 and ((bleu >= 0) & (bleu <= 100)).all()
    run_id = store.runs("tiny")["id"].iloc[0]
    samples = json.loads((tmp_path / "store" / "runs" / run_id / "samples.json").read_text())
    assert len(samples) == 10 and set(samples[0]) == {"source", "reference", "output"}
    from trainlab.data.pig_latin import to_pig_latin

    assert all(s["reference"] == to_pig_latin(s["source"]) for s in samples)
    page = report_study(study, out=tmp_path / "report").read_text()
    assert "<h2>Translations</h2>" in page and samples[0]["reference"] in page
    assert "By best validation loss (lower first): experiment" in page
    best = max(((r["experiment"], r["best_value"]) for r in store.runs("tiny").to_dict("records")), key=lambda e: e[1])
    assert (
        f"Best valid bleu (0-100): experiment {best[0]} " in (tmp_path / "report" / "findings.md").read_text()
    )  # higher is better


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"name": "multi30k", "source": "fr", "target": "en"},
            "fr->en is not a Multi30k task 1 pair; valid: de->en, en->de",
        ),
        ({"name": "parallel_text", "source": "de", "target": "en", "lines": True}, "train.de has 30 lines but"),
        ({"name": "parallel_text", "source": "de", "target": "en", "empty": True}, "1 empty lines in"),
        ({"name": "parallel_text", "source": "de", "target": "en", "no_train": True}, "needs train.de and train.en"),
        ({"name": "pig_latin", "max_len": 4, "too_long": "refuse"}, "sentences are longer than 4 tokens"),
        (
            {"name": "parallel_text", "source": "de", "target": "en", "skip_empty": True, "all_empty": True},
            "train.de and train.en hold no sentence pair (empty lines dropped)",
        ),
        (
            {"name": "parallel_text", "source": "de", "target": "en", "too_long": "refuse", "long_line": True},
            "data.max_len: 1 train target lines are longer than 2,048 characters (longest 200,000)",
        ),
        ({"name": "pig_latin", "vocab_size": 10}, "data.vocab_size: unknown field"),
    ],
)
def test_bad_translation_input_is_one_line_before_any_training(tmp_path: Path, data: dict, message: str) -> None:
    """Unknown pair, misaligned files, empty lines, sentences too long, no training split, nothing left
    after the empty lines, a line of 200,000 characters: exit 2, one line, nothing trained."""
    study = tiny_translation(tmp_path)
    raw = study.read_text()
    folder = tmp_path / "files"
    folder.mkdir()
    write_parallel(folder, {"train": 30, "valid": 6})
    if data.pop("lines", False):
        (folder / "train.en").write_text("one\n" * 29)
    if data.pop("empty", False):
        (folder / "valid.en").write_text("one\n\ntwo\nthree\nfour\nfive\n")
    if data.pop("no_train", False):
        (folder / "train.de").unlink()
    if data.pop("all_empty", False):  # once a RuntimeError from max() of nothing
        (folder / "train.de").write_text("\n" * 30)
        (folder / "train.en").write_text("\n" * 30)
    if data.pop("long_line", False):  # once minutes of tokenizer training, without a word
        lines = (folder / "train.en").read_text().splitlines()
        (folder / "train.en").write_text("\n".join(["x" * 200_000, *lines[1:]]) + "\n")
    if data["name"] == "parallel_text":
        data = {**data, "path": str(folder), "vocab_size": 300}
    elif data["name"] == "pig_latin":
        data = {**data, "words": str(tmp_path / "words.txt")}
    import yaml

    spec = yaml.safe_load(raw)
    spec["base"]["data"] = data
    study.write_text(yaml.safe_dump(spec))
    assert_user_error(run_cli("run", str(study)), message)
    assert not (tmp_path / "store").exists()
