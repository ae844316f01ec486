"""What a model is trained to do: the loss, and exact split-level metrics built from batch sums.

Metrics are accumulated as sums over the whole split (not means of batch means), so a split's
accuracy or perplexity is exact whatever the batch size.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from trainlab.data.base import DataInfo
from trainlab.data.seq2seq import PairSplit
from trainlab.data.tokens import EOS, PAD
from trainlab.errors import TrainlabError
from trainlab.registry import Entry, Registry
from trainlab.spec.config import TrainConfig
from trainlab.spec.plugin import source_digest
from trainlab.train.bleu import N_STATS, bleu_from_stats, bleu_stats
from trainlab.train.decoding import decode


class TaskBase:
    """What every task shares: the data it reads, the count behind its sums (last entry), and an
    evaluation that is the training metrics unless a task adds to it (translation decodes).

    A task of the user's subclasses it (see Classification for what to define: `main_metric`, `mode`,
    `n_sums`, `throughput`, `loss`, `units`, `sums`, `summarize`) and is named by the DataInfo of its data:
    an import path, an entry point of group `trainlab.tasks`, or a name given to `trainlab.register_task`."""

    def __init__(self, info: DataInfo, train: TrainConfig | None = None) -> None:
        self.info, self.train = info, train or TrainConfig()

    @property
    def n_eval_sums(self) -> int:
        return self.n_sums

    def count(self, sums: torch.Tensor) -> float:
        """Examples (or target tokens) behind the sums, for throughput."""
        return float(sums[-1])

    def eval_sums(
        self, model: nn.Module, x: object, y: torch.Tensor, out: torch.Tensor, loss: torch.Tensor
    ) -> torch.Tensor:
        return self.sums(out, y, loss)

    def summarize_eval(self, sums: torch.Tensor) -> dict[str, float]:
        return self.summarize(sums)

    def samples(self, model: nn.Module, split: object, n: int) -> list[dict[str, str]]:
        """Examples of what the model does, for the report (translation: source, reference, output)."""
        return []


class Classification(TaskBase):
    """Cross-entropy over classes; accuracy is the main metric (higher is better)."""

    main_metric = "accuracy"
    mode: Literal["max", "min"] = "max"
    n_sums = 3
    throughput = "samples_per_s"

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out, y)

    def units(self, y: torch.Tensor) -> int:
        """What throughput and FLOPs are counted per: examples."""
        return y.shape[0]

    def sums(self, out: torch.Tensor, y: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
        """[sum of losses, correct, examples] for one batch, computed from the batch-mean loss."""
        n = y.shape[0]
        correct = (out.argmax(dim=-1) == y).sum()
        return torch.stack(
            [loss.detach() * n, correct.to(loss.dtype), loss.new_full((), n)]
        )  # new_full: no host-to-GPU copy

    def summarize(self, sums: torch.Tensor) -> dict[str, float]:
        loss_sum, correct, n = sums.tolist()
        return {"loss": loss_sum / n, "accuracy": correct / n}


class LanguageModeling(TaskBase):
    """Next-token cross-entropy over non-padding targets; perplexity is the main metric (lower is better).

    Perplexity = exp(total NLL / number of target tokens) over the whole split; bits per character =
    NLL / ln 2 per character for character-level data.
    """

    main_metric = "perplexity"
    mode: Literal["max", "min"] = "min"
    n_sums = 2
    throughput = "tokens_per_s"

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), ignore_index=PAD)

    def units(self, y: torch.Tensor) -> int:
        """What throughput and FLOPs are counted per: target tokens (padding excluded)."""
        return int((y != PAD).sum())

    def sums(self, out: torch.Tensor, y: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
        tokens = (y != PAD).sum().to(loss.dtype)
        return torch.stack([loss.detach() * tokens, tokens])

    def summarize(self, sums: torch.Tensor) -> dict[str, float]:
        nll, tokens = sums.tolist()
        loss = nll / tokens
        out = {"loss": loss, "perplexity": math.exp(min(loss, 700.0))}  # exp overflows past ~709
        if self.info.char_level:
            out["bpc"] = loss / math.log(2)
        return out


class Translation(TaskBase):
    """Teacher-forced cross-entropy over target tokens (with `train.label_smoothing`, Szegedy et al. 2016),
    and, in evaluation, decoding (greedy, or beam search with `train.beam_size`): exact-match accuracy
    and corpus BLEU, the main metric. `loss` and `perplexity` are the plain NLL of the references."""

    main_metric = "bleu"
    mode: Literal["max", "min"] = "max"
    n_sums = 3  # NLL sum, correct tokens, target tokens
    n_eval_sums = 2 + N_STATS + 3  # exact matches, sentences, BLEU statistics, then the training sums
    throughput = "tokens_per_s"

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(
            out.reshape(-1, out.shape[-1]), y.reshape(-1), ignore_index=PAD, label_smoothing=self.train.label_smoothing
        )

    def units(self, y: torch.Tensor) -> int:
        return int((y != PAD).sum())

    def sums(self, out: torch.Tensor, y: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
        real = y != PAD
        tokens = real.sum().float()  # float32 even under bf16 autocast, whose 8-bit mantissa would round counts
        if self.train.label_smoothing:  # report the NLL of the references, not the smoothed objective
            nll = F.cross_entropy(
                out.reshape(-1, out.shape[-1]).detach().float(), y.reshape(-1), ignore_index=PAD, reduction="sum"
            )
        else:
            nll = loss.detach().float() * tokens
        correct = ((out.argmax(-1) == y) & real).sum()
        return torch.stack([nll, correct.float(), tokens])

    def summarize(self, sums: torch.Tensor) -> dict[str, float]:
        nll, correct, tokens = sums.tolist()
        return {"loss": nll / tokens, "perplexity": math.exp(min(nll / tokens, 700.0)), "accuracy": correct / tokens}

    def eval_sums(
        self,
        model: nn.Module,
        x: tuple[torch.Tensor, torch.Tensor],
        y: torch.Tensor,
        out: torch.Tensor,
        loss: torch.Tensor,
    ) -> torch.Tensor:
        hyp = decode(model, x[0], self.train.beam_size, self.train.length_penalty)  # (B, L)
        width = max(hyp.shape[1], y.shape[1])
        exact = (F.pad(hyp, (0, width - hyp.shape[1]), value=PAD) == F.pad(y, (0, width - y.shape[1]), value=PAD)).all(
            1
        )
        texts = [self._text(row) for row in hyp.tolist()], [self._text(row) for row in y.tolist()]
        decoded = torch.tensor([float(exact.sum()), float(len(y)), *bleu_stats(*texts)], device=y.device)
        return torch.cat([decoded, self.sums(out, y, loss)])

    @torch.no_grad()
    def samples(self, model: nn.Module, split: PairSplit, n: int) -> list[dict[str, str]]:
        """The first `n` sentences of the split, in file order, as the model translates them."""
        n = min(n, len(split))
        src = split.src[:n, : int(split.src_len[:n].max())]
        was_training = model.training
        model.eval()
        hyp = decode(model, src, self.train.beam_size, self.train.length_penalty).tolist()
        model.train(was_training)
        return [
            {"source": self._text(s), "reference": self._text(t[1:]), "output": self._text(h)}
            for s, t, h in zip(src.tolist(), split.tgt[:n].tolist(), hyp)
        ]

    def _text(self, ids: list[int]) -> str:
        return self.info.detokenize(ids[: ids.index(EOS)] if EOS in ids else ids)

    def summarize_eval(self, sums: torch.Tensor) -> dict[str, float]:
        exact, sentences = sums[:2].tolist()
        bleu = bleu_from_stats(sums[2 : 2 + N_STATS].tolist())
        return {**self.summarize(sums[2 + N_STATS :]), "exact_match": exact / sentences, "bleu": bleu}


Task = TaskBase


def task_plugin(name: str, target: Any, own: Any = None) -> Entry[Any]:
    if not (isinstance(target, type) and issubclass(target, TaskBase)):
        raise TrainlabError(f"task {name!r}: {target!r} is not a subclass of trainlab.train.tasks.TaskBase")
    return Entry(name, target, source=source_digest(target))


TASKS: Registry[type[TaskBase]] = Registry("task", "trainlab.tasks", task_plugin)
TASKS.register("classification", Classification)
TASKS.register("lm", LanguageModeling)
TASKS.register("seq2seq", Translation)


def is_better(task: Task, value: float, best: float | None) -> bool:
    if best is None:
        return True
    return value > best if task.mode == "max" else value < best
