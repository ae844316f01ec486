"""Task metrics: perplexity over a whole split, exact whatever the batch size; bits per character."""

from __future__ import annotations

import math

import torch

from trainlab.data import DataInfo
from trainlab.data.tokens import EOS, PAD, CharVocab
from trainlab.spec import TrainConfig
from trainlab.train import tasks
from trainlab.train.bleu import bleu_from_stats, bleu_stats
from trainlab.train.tasks import LanguageModeling, Translation


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


def test_translation_metrics_from_decoded_output(monkeypatch) -> None:  # noqa: ANN001
    """Two references, one translated exactly and one with a word wrong (and no </s>): exact match 1/2,
    BLEU equal to sacreBLEU's statistics of the detokenised strings, NLL without label smoothing."""
    vocab = CharVocab(["ab cd"])
    info = DataInfo("seq2seq", (5, 7), len(vocab), char_level=True, detokenize=vocab.decode)
    task = Translation(info, TrainConfig(label_smoothing=0.1))
    y = torch.tensor([[*vocab.encode(["ab cd"])[0], EOS], [*vocab.encode(["cd ab"])[0], EOS]])  # (2, 6)
    hyp = torch.tensor([[*vocab.encode(["ab cd"])[0], EOS, PAD], [*vocab.encode(["cd cd"])[0], 6, 6]])
    monkeypatch.setattr(tasks, "decode", lambda model, src, beam, alpha: hyp)
    out = torch.randn(2, 6, len(vocab))
    metrics = task.summarize_eval(task.eval_sums(None, (None, None), y, out, task.loss(out, y)))
    assert metrics["exact_match"] == 0.5
    assert metrics["bleu"] == bleu_from_stats(bleu_stats(["ab cd", "cd cdaa"], ["ab cd", "cd ab"]))
    nll = torch.nn.functional.cross_entropy(out.reshape(-1, len(vocab)), y.reshape(-1))
    assert math.isclose(metrics["loss"], float(nll), rel_tol=1e-6) and float(task.loss(out, y)) != float(nll)
