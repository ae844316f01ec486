"""The translation models: parameter counts by hand, masks that hide padding, the decoder-only prompt."""

from __future__ import annotations

import torch

from trainlab.data.base import DataInfo
from trainlab.data.tokens import PAD, SOS
from trainlab.models import MODELS
from trainlab.models.decoder_only import left_aligned_prompt
from trainlab.train.measure import parameter_counts


def count(name: str, vocab: int, **options: object) -> int:
    entry = MODELS.get(name)
    with torch.device("meta"):
        model = entry.build(entry.config(name=name, **options), DataInfo("seq2seq", (20, 20), vocab))
    return parameter_counts(model)["total"]


def encoder_decoder_formula(d: int, h: int, layers: int, vocab: int, pre_norm: bool = False) -> int:
    """Attention 4(d² + d); feed-forward 2dh + h + d; LayerNorm 2d. Encoder layer: attention, FFN, 2 norms;
    decoder layer: 2 attentions, FFN, 3 norms; one shared, tied embedding table V·d; pre-norm adds a
    final LayerNorm to each stack."""
    attention, ffn, norm = 4 * (d * d + d), 2 * d * h + h + d, 2 * d
    encoder, decoder = attention + ffn + 2 * norm, 2 * attention + ffn + 3 * norm
    return layers * (encoder + decoder) + vocab * d + (2 * norm if pre_norm else 0)


def test_the_base_transformer_has_the_papers_size() -> None:
    """d 512, FFN 2048, 6 + 6 layers with a 37,000-token shared vocabulary: 63.1 M parameters, the
    'base' model that Vaswani et al. (Table 3) list as 65 M."""
    n = count("transformer_seq2seq", 37_000)
    assert n == encoder_decoder_formula(512, 2048, 6, 37_000) == 63_082_496


def test_course_sizes_follow_the_formula() -> None:
    """The CSC413 hidden sizes 32 and 64 (3 + 3 layers) and a pre-norm model with separate embeddings."""
    for d in (32, 64):
        assert count("transformer_seq2seq", 60, dim=d, heads=4, hidden=2 * d, layers=3) == encoder_decoder_formula(
            d, 2 * d, 3, 60
        )
    separate = count(
        "transformer_seq2seq", 60, dim=32, heads=4, hidden=64, layers=3, share_embeddings=False, norm="pre"
    )
    assert separate == encoder_decoder_formula(32, 64, 3, 60, pre_norm=True) + 60 * 32


def test_decoder_only_counts_one_stack() -> None:
    """Decoder-only layers have no cross-attention: attention + FFN + 2 norms each, plus the embedding."""
    d, h = 64, 128
    assert (
        count("decoder_only_seq2seq", 60, dim=d, heads=4, hidden=h, layers=3)
        == 3 * (4 * (d * d + d) + 2 * d * h + h + d + 4 * d) + 60 * d
    )


def test_the_prompt_is_left_aligned() -> None:
    """Right-padded sources become '<s> source' flush right, so every target starts in the same column."""
    src = torch.tensor([[7, 8, 9], [5, PAD, PAD]])
    assert left_aligned_prompt(src).tolist() == [[SOS, 7, 8, 9], [PAD, PAD, SOS, 5]]


def test_padding_changes_nothing_in_the_logits() -> None:
    """A source with extra padding gives the same teacher-forced logits (encoder-decoder and decoder-only)."""
    for name in ("transformer_seq2seq", "decoder_only_seq2seq"):
        torch.manual_seed(0)
        entry = MODELS.get(name)
        model = entry.build(
            entry.config(name=name, dim=16, heads=2, hidden=32, layers=2, dropout=0.0), DataInfo("seq2seq", (8, 8), 30)
        ).eval()
        src, tgt = torch.tensor([[5, 6, 7]]), torch.tensor([[SOS, 9, 10]])
        padded = torch.tensor([[5, 6, 7, PAD, PAD]])
        torch.testing.assert_close(model((padded, tgt)), model((src, tgt)), rtol=1e-5, atol=1e-6)
