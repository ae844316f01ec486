"""Corpus BLEU (Papineni et al. 2002) as sacreBLEU defines it (13a tokenisation, exponential smoothing),
from sufficient statistics: n-gram matches and totals for n = 1..4 plus hypothesis and reference lengths,
summed over batches. A corpus score is a function of these sums only, so it is exact whatever the
batch size (a mean of batch BLEUs is not)."""

from __future__ import annotations

from collections.abc import Sequence

N_STATS = 10  # matches 1..4, totals 1..4, hypothesis length, reference length


def bleu_stats(hypotheses: Sequence[str], references: Sequence[str]) -> list[float]:
    """The sufficient statistics of a batch of (detokenised) hypotheses against one reference each."""
    from sacrebleu.metrics import BLEU

    score = BLEU().corpus_score(list(hypotheses), [list(references)])
    return [*score.counts, *score.totals, score.sys_len, score.ref_len]


def bleu_from_stats(stats: Sequence[float]) -> float:
    """Corpus BLEU (0-100) from summed statistics, by sacreBLEU's own formula."""
    from sacrebleu.metrics import BLEU

    counts, totals = [int(c) for c in stats[:4]], [int(t) for t in stats[4:8]]
    return BLEU.compute_bleu(counts, totals, int(stats[8]), int(stats[9]), smooth_method="exp").score
