"""Task metrics: perplexity over a whole split, exact whatever the batch size; bits per character."""

from __future__ import annotations

import math

import torch

from trainlab.data import DataInfo
from trainlab.train.tasks import LanguageModeling


def test_perplexity_is_exp_of_total_nll_over_all_target_tokens() -> None:
    """Two batches with different token counts: exp(sum NLL / sum tokens), padding ignored."""
    task = LanguageModeling(DataInfo("lm", (3,), 4, char_level=True))
    torch.manual_seed(0)
    batches = [(torch.randn(1, 3, 4), torch.tensor([[1, 2, 3]])), (torch.randn(1, 3, 4), torch.tensor([[2, 0, 0]]))]
    sums = sum(task.sums(out, y, task.loss(out, y)) for out, y in batches)
    nll = []
    for out, y in batches:
        logp = out.log_softmax(-1)[0]
        nll += [-float(logp[t, int(y[0, t])]) for t in range(3) if int(y[0, t]) != 0]
    metrics = task.summarize(sums)
    assert len(nll) == 4
    assert math.isclose(metrics["loss"], sum(nll) / 4, rel_tol=1e-6)
    assert math.isclose(metrics["perplexity"], math.exp(sum(nll) / 4), rel_tol=1e-6)
    assert math.isclose(metrics["bpc"], sum(nll) / 4 / math.log(2), rel_tol=1e-6)
    mean_of_batch_ppl = (math.exp(sum(nll[:3]) / 3) + math.exp(nll[3])) / 2
    assert not math.isclose(metrics["perplexity"], mean_of_batch_ppl, rel_tol=1e-3)
