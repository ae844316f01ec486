"""Translation data: the Pig Latin rules, aligned files and their mistakes, vocabularies from the training
split only, byte-level BPE that round-trips, and length bucketing."""

from __future__ import annotations

import lzma
from pathlib import Path

import pytest
import torch

from tests.conftest import SHARED
from trainlab.data import DATASETS
from trainlab.data.pig_latin import phrases, to_pig_latin
from trainlab.data.seq2seq import Multi30kConfig, ParallelTextConfig, PigLatinConfig, multi30k_lines
from trainlab.data.tokens import EOS, PAD, SOS, UNK, BPEVocab, CharVocab
from trainlab.errors import TrainlabError

MULTI30K = SHARED / "multi30k"
needs_multi30k = pytest.mark.skipif(not MULTI30K.exists(), reason=f"Multi30k not found at {MULTI30K}")


def write_parallel(folder: Path, sizes: dict[str, int], source: str = "de", target: str = "en") -> None:
    """Aligned toy files: line i of both sides says the same number."""
    de = ["null", "eins", "zwei", "drei", "vier", "fünf"]
    en = ["zero", "one", "two", "three", "four", "five"]
    for split, n in sizes.items():
        (folder / f"{split}.{source}").write_text("".join(f"{de[i % 6]} {de[(i // 6) % 6]}\n" for i in range(n)))
        (folder / f"{split}.{target}").write_text("".join(f"{en[i % 6]} {en[(i // 6) % 6]}\n" for i in range(n)))


@pytest.mark.parametrize(
    ("english", "pig"),
    [
        ("pig", "igpay"),
        ("latin", "atinlay"),
        ("string", "ingstray"),
        ("apple", "appleway"),
        ("egg!", "eggway!"),
        ("quiet", "ietquay"),
        ("square", "aresquay"),
        ("yellow", "ellowyay"),
        ("rhythm", "ythmrhay"),
        ("hmm", "hmmay"),
        ("Hello", "Ellohay"),
        ("NASA", "ASANAY"),
        ("The dog ran.", "Ethay ogday anray."),
        ("42", "42"),
    ],
)
def test_pig_latin_follows_the_written_rules(english: str, pig: str) -> None:
    """Each rule of the module docstring, on a word worked out by hand."""
    assert to_pig_latin(english) == pig


def test_phrases_are_distinct_and_reproducible() -> None:
    """Same seed, same phrases; none repeated; 1..max_words words each."""
    words = [f"w{i}" for i in range(30)]
    a, b = phrases(words, 200, 3, seed=1), phrases(words, 200, 3, seed=1)
    assert a == b and len(set(a)) == len(a) == 200 and {len(p.split()) for p in a} == {1, 2, 3}
    assert phrases(words, 200, 3, seed=2) != a


def test_pig_latin_splits_are_disjoint_and_the_vocabulary_comes_from_train(tmp_path: Path) -> None:
    """No phrase in two splits; characters only seen outside training are <unk>."""
    (tmp_path / "w.txt").write_text(" ".join(f"word{chr(97 + i)}{chr(97 + j)}" for i in range(20) for j in range(20)))
    data = DATASETS.get("pig_latin").build(PigLatinConfig(words=str(tmp_path / "w.txt"), size=500))
    texts = {
        name: {data.info.detokenize(r.tolist()) for r in split.src}
        for name, split in (("train", data.train), ("valid", data.valid), ("test", data.test))
    }
    assert not (texts["train"] & texts["valid"]) and not (texts["train"] & texts["test"])
    assert (len(data.train), len(data.valid), len(data.test)) == (400, 50, 50)
    vocab = CharVocab(["ab"])
    assert vocab.encode(["abz"]) == [[5, 6, UNK]] and vocab.decode([SOS, 5, 6, EOS, PAD]) == "ab"


def test_targets_carry_sos_and_eos_and_batches_line_up(tmp_path: Path) -> None:
    """Target input starts with <s>; target output is it shifted by one and ends with </s>."""
    write_parallel(tmp_path, {"train": 30, "valid": 6})
    data = DATASETS.get("parallel_text").build(
        ParallelTextConfig(path=str(tmp_path), source="de", target="en", vocab_size=300)
    )
    (src, tgt_in), tgt_out = next(data.valid.batches(6))
    assert (tgt_in[:, 0] == SOS).all() and torch.equal(tgt_in[:, 1:], tgt_out[:, :-1])
    assert all(EOS in row.tolist() for row in tgt_out)
    english = dict(
        zip(["null", "eins", "zwei", "drei", "vier", "fünf"], ["zero", "one", "two", "three", "four", "five"])
    )
    for source, target in zip(src.tolist(), tgt_out.tolist()):  # rows stay aligned through bucketing
        words = data.info.detokenize(source).split()
        assert data.info.detokenize(target) == " ".join(english[w] for w in words)
    assert data.test is None


@pytest.mark.parametrize(
    ("mistake", "message"),
    [
        ("lines", "train.de has 30 lines but"),
        ("empty", "1 empty lines in"),
        ("no_train", r"needs train.de and train.en \(the vocabulary is built from the training split\)"),
    ],
)
def test_bad_parallel_files_are_named(tmp_path: Path, mistake: str, message: str) -> None:
    """Different line counts (with both counts), empty lines, no training split: one clear error each."""
    write_parallel(tmp_path, {"train": 30, "valid": 6})
    if mistake == "lines":
        (tmp_path / "train.en").write_text("one\n" * 29)
    elif mistake == "empty":
        (tmp_path / "valid.en").write_text("one\n\ntwo\nthree\nfour\nfive\n")
    else:
        (tmp_path / "train.de").unlink()
    config = ParallelTextConfig(path=str(tmp_path), source="de", target="en", vocab_size=300)
    with pytest.raises(TrainlabError, match=message):
        DATASETS.get("parallel_text").build(config)
    if mistake == "lines":
        with pytest.raises(TrainlabError, match=r"but .*train\.en has 29"):
            DATASETS.get("parallel_text").build(config)


def test_empty_lines_may_be_dropped_by_choice(tmp_path: Path) -> None:
    """skip_empty: true drops the pairs with an empty side instead of refusing them."""
    write_parallel(tmp_path, {"train": 30, "valid": 6})
    (tmp_path / "valid.en").write_text("one\n\ntwo\nthree\nfour\nfive\n")
    data = DATASETS.get("parallel_text").build(
        ParallelTextConfig(path=str(tmp_path), source="de", target="en", vocab_size=300, skip_empty=True)
    )
    assert len(data.valid) == 5


def test_too_long_sentences_are_cut_with_a_note_or_refused(tmp_path: Path) -> None:
    """data.max_len: truncate (a note says how many) or refuse (an error says how many and how long)."""
    (tmp_path / "w.txt").write_text(" ".join(f"longword{chr(97 + i)}" for i in range(26)))
    base = {"words": str(tmp_path / "w.txt"), "size": 100, "max_words": 3, "max_len": 12}
    data = DATASETS.get("pig_latin").build(PigLatinConfig(**base))
    assert any("sentences cut to 12 tokens" in note for note in data.notes) and data.info.input_shape[0] == 12
    with pytest.raises(
        TrainlabError, match=r"data\.max_len: \d+ (valid|test|train) source sentences are longer than 12 tokens"
    ):
        DATASETS.get("pig_latin").build(PigLatinConfig(**base, too_long="refuse"))


def test_an_unknown_language_pair_is_refused() -> None:
    """Multi30k task 1 is German <-> English here; anything else names the valid pairs."""
    with pytest.raises(ValueError, match=r"fr->en is not a Multi30k task 1 pair; valid: de->en, en->de"):
        Multi30kConfig(source="fr", target="en")


@needs_multi30k
def test_bpe_round_trips_every_multi30k_test_reference() -> None:
    """Byte-level BPE learned on the training side decodes every test sentence back exactly, so BLEU is
    computed against the references as published."""
    train = multi30k_lines(str(MULTI30K), "train.en")[:5000]
    vocab = BPEVocab(train, 2000, 2)
    test = multi30k_lines(str(MULTI30K), "test2016.en")
    assert [vocab.decode(ids) for ids in vocab.encode(test)] == test
    assert UNK not in {i for ids in vocab.encode(test) for i in ids}


def test_a_vocabulary_is_trained_once_per_text_and_options() -> None:
    """Every translation data config of a process shares the BPE vocabulary of the same training text and
    options (a check of a preset trained it once per experiment); other text or options train their own."""
    text = ["the cat sat on the mat", "a dog ran after the cat", "der Hund lief"] * 20
    first = BPEVocab.trained(text, 300, 2)
    assert BPEVocab.trained(list(text), 300, 2) is first
    assert BPEVocab.trained(text, 280, 2) is not first and BPEVocab.trained(text[:-1], 300, 2) is not first
    assert first.decode(first.encode(["the cat ran"])[0]) == "the cat ran"


@needs_multi30k
def test_multi30k_padding_stays_under_15_percent_in_training() -> None:
    """Bucketed batches of 64-192 sentences: padding is 6-9 % of the training token slots; every pair
    appears exactly once per epoch."""
    data = DATASETS.get("multi30k").build(Multi30kConfig(root=str(MULTI30K)))
    assert (len(data.train), len(data.valid), len(data.test)) == (29_000, 1_014, 1_000)
    for batch_size in (64, 128, 192):
        assert data.train.padding_fraction(batch_size, torch.Generator().manual_seed(0)) < 0.10
    seen = torch.cat(data.train.batch_indices(128, torch.Generator().manual_seed(0)))
    assert torch.equal(seen.sort().values, torch.arange(29_000))
    assert len(data.train.batch_indices(128, torch.Generator())) == data.train.num_batches(128)


@needs_multi30k
def test_a_modified_multi30k_file_is_refused(tmp_path: Path) -> None:
    """Files are checked against the official text: one changed line fails with the file named."""
    text = lzma.open(MULTI30K / "val.en.xz", "rt", encoding="utf-8").read().replace("A", "a", 1)
    (tmp_path / "val.en").write_text(text)
    with pytest.raises(TrainlabError, match=r"val\.en is not the official Multi30k val\.en"):
        multi30k_lines(str(tmp_path), "val.en")


def test_a_line_longer_than_max_len_tokens_can_hold_is_cut_before_the_tokenizer(tmp_path: Path) -> None:
    """A training line of 200,000 characters (which once kept BPE training busy for minutes) is cut to
    16 characters per token of data.max_len, and the bundle says so."""
    write_parallel(tmp_path, {"train": 30, "valid": 6})
    lines = (tmp_path / "train.de").read_text().splitlines()
    (tmp_path / "train.de").write_text("\n".join(["wort " * 40_000, *lines[1:]]) + "\n")
    data = DATASETS.get("parallel_text").build(
        ParallelTextConfig(path=str(tmp_path), source="de", target="en", vocab_size=300, max_len=8)
    )
    assert data.notes[0] == "data: 1 train source lines cut to 128 characters (longest 200,000)"
    assert int(data.train.src_len.max()) <= 8
