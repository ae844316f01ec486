"""BLEU from sufficient statistics: a case worked by hand, and sacreBLEU's corpus score on real Multi30k
sentences, whatever the batching."""

from __future__ import annotations

import lzma
import math

import pytest
import sacrebleu

from tests.conftest import SHARED
from trainlab.train.bleu import bleu_from_stats, bleu_stats


def test_bleu_of_one_sentence_worked_by_hand() -> None:
    """'the cat sat on the mat' against 'the cat is on the mat': clipped n-gram precisions 5/6, 3/5, 1/4
    and 0/3 (smoothed by sacreBLEU's 'exp' method to 1/(2·3)), equal lengths so no brevity penalty:
    BLEU = 100 · (5/6 · 3/5 · 1/4 · 1/6)^(1/4)."""
    stats = bleu_stats(["the cat sat on the mat"], ["the cat is on the mat"])
    assert stats == [5, 3, 1, 0, 6, 5, 4, 3, 6, 6]
    assert bleu_from_stats(stats) == pytest.approx(100 * (5 / 6 * 3 / 5 * 1 / 4 * 1 / 6) ** 0.25)


def test_the_brevity_penalty_applies_to_short_output() -> None:
    """A correct prefix of 4 words against 6: every precision is 1, BP = exp(1 - 6/4)."""
    stats = bleu_stats(["the cat is on"], ["the cat is on the mat"])
    assert stats == [4, 3, 2, 1, 4, 3, 2, 1, 4, 6]
    assert bleu_from_stats(stats) == pytest.approx(100 * math.exp(1 - 6 / 4), rel=1e-9)


@pytest.mark.skipif(not (SHARED / "multi30k").exists(), reason="Multi30k not found")
@pytest.mark.parametrize("batch", [1, 7, 128, 1000])
def test_summed_statistics_give_sacrebleus_corpus_score(batch: int) -> None:
    """1,000 real English test sentences against 'hypotheses' made by dropping and swapping words: the
    statistics of batches, summed, give exactly sacrebleu.corpus_bleu on the whole."""
    refs = lzma.open(SHARED / "multi30k" / "test2016.en.xz", "rt", encoding="utf-8").read().splitlines()
    hyps = [" ".join(w for j, w in enumerate(r.split()) if (i + j) % 5) for i, r in enumerate(refs)]
    hyps = [h.replace(" a ", " the ") for h in hyps]
    total = [0.0] * 10
    for start in range(0, len(refs), batch):
        stats = bleu_stats(hyps[start : start + batch], refs[start : start + batch])
        total = [a + b for a, b in zip(total, stats)]
    expected = sacrebleu.corpus_bleu(hyps, [refs]).score
    assert 20 < expected < 60 and bleu_from_stats(total) == pytest.approx(expected, abs=1e-9)
