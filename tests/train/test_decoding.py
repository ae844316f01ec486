"""Decoding: the cached greedy search equals the one that reruns the decoder, beam search finds what
greedy misses on a hand-made model, and every sequence stops at </s> within the length bound."""

from __future__ import annotations

import math

import pytest
import torch

from trainlab.data.base import DataInfo
from trainlab.data.tokens import EOS, PAD, SOS
from trainlab.models import MODELS
from trainlab.train.decoding import beam_search, greedy, greedy_without_cache, length_penalty

INFO = DataInfo("seq2seq", (12, 14), 40)


def random_model(name: str, **options: object) -> torch.nn.Module:
    torch.manual_seed(0)
    entry = MODELS.get(name)
    config = entry.config(name=name, dim=32, heads=4, hidden=64, layers=2, dropout=0.0, **options)
    return entry.build(config, INFO).eval()


def sources(rows: int = 6) -> torch.Tensor:
    """Right-padded sources of different lengths (ids 5..39 are words)."""
    g = torch.Generator().manual_seed(1)
    src = torch.randint(5, 40, (rows, 10), generator=g)
    for i, length in enumerate([10, 3, 7, 1, 5, 9][:rows]):
        src[i, length:] = PAD
    return src


@pytest.mark.parametrize("name", ["transformer_seq2seq", "decoder_only_seq2seq"])
@pytest.mark.parametrize("options", [{}, {"norm": "pre", "positions": "learned"}])
def test_cached_greedy_equals_rerunning_the_decoder(name: str, options: dict) -> None:
    """Token for token, with padded sources of six lengths in one batch."""
    model, src = random_model(name, **options), sources()
    assert torch.equal(greedy(model, src, 12), greedy_without_cache(model, src, 12))


@pytest.mark.parametrize("name", ["transformer_seq2seq", "decoder_only_seq2seq"])
def test_a_source_decodes_the_same_alone_and_in_a_padded_batch(name: str) -> None:
    """Padding is invisible: each row of the batch equals that source decoded on its own."""
    model, src = random_model(name), sources()
    together = greedy(model, src, 12)
    for i, length in enumerate([10, 3, 7, 1, 5, 9]):
        alone = greedy(model, src[i : i + 1, :length], 12)
        assert torch.equal(together[i, : alone.shape[1]], alone[0])


@pytest.mark.parametrize("name", ["transformer_seq2seq", "decoder_only_seq2seq"])
def test_beam_of_width_one_is_greedy(name: str) -> None:
    model, src = random_model(name), sources()
    assert torch.equal(beam_search(model, src, 12, width=1, alpha=0.0), greedy(model, src, 12))


class MarkovTable:
    """A decodable 'model' whose next-token probabilities depend only on the last token: greedy takes
    A (p 0.6) then pays p 0.3 for </s>; B (p 0.4) then </s> (p 1.0) is better: 0.4 > 0.18."""

    max_target_len = 10
    A, B = 5, 6

    def begin(self, src: torch.Tensor) -> dict:
        return {"last": src.new_full((src.shape[0],), SOS)}

    def step(self, state: dict, tokens: torch.Tensor) -> torch.Tensor:
        probs = torch.full((tokens.shape[0], 8), 1e-9)
        last = tokens[:, 0]
        probs[last == SOS, self.A], probs[last == SOS, self.B] = 0.6, 0.4
        probs[last == self.A, EOS], probs[last == self.A, self.A] = 0.3, 0.7
        probs[last == self.B, EOS] = 1.0
        probs[last == EOS, PAD] = 1.0
        state["last"] = last
        return probs.log()


def test_beam_search_finds_the_sequence_greedy_misses() -> None:
    """Worked by hand: greedy gives A A A ... (0.6·0.7^k, never ending) within max_len; beam of 2 gives
    B </s> with probability 0.4 against A </s> with 0.18."""
    src = torch.zeros(1, 1, dtype=torch.long)
    table = MarkovTable()
    assert greedy(table, src, 4).tolist() == [[5, 5, 5, 5]]  # never reaches </s>: stops at max_len
    assert beam_search(table, src, 4, width=2, alpha=0.0).tolist() == [[6, EOS]]


def test_finished_sequences_stop_and_pad() -> None:
    """A row that emitted </s> only adds <pad>; the batch stops when all rows are done."""
    table = MarkovTable()
    out = beam_search(table, torch.zeros(3, 1, dtype=torch.long), 9, width=2, alpha=0.0)
    assert out.tolist() == [[6, EOS]] * 3


def test_the_length_penalty_is_gnmts() -> None:
    """lp(Y) = ((5 + |Y|) / 6)^α: 1 for one token, (10/6)^0.6 for five."""
    assert length_penalty(torch.tensor(1.0), 0.6).item() == 1.0
    assert length_penalty(torch.tensor(5.0), 0.6).item() == pytest.approx(math.pow(10 / 6, 0.6))
