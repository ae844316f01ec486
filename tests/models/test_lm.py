"""Language models: the course parameter counts, shapes, tied weights, causality."""

from __future__ import annotations

import pytest
import torch

from trainlab.data import DataInfo
from trainlab.models.gpt import GPTConfig, build_gpt
from trainlab.models.lstm_lm import LSTMLMConfig, build_lstm_lm
from trainlab.train.measure import parameter_counts

COURSE = DataInfo("lm", (256,), 40_479)


@pytest.mark.parametrize(("layers", "learnable"), [(1, 3_019_520), (2, 5_120_768), (4, 9_323_264)])
def test_course_lstm_learnable_parameters(layers: int, learnable: int) -> None:
    """With frozen tied embeddings the course LSTM has exactly the course's learnable parameter count."""
    with torch.device("meta"):
        model = build_lstm_lm(LSTMLMConfig(layers=layers, freeze_embeddings=True), COURSE)
    counts = parameter_counts(model)
    assert counts["trainable"] == counts["non_embedding"] == learnable
    assert counts["total"] == learnable + 40_479 * 768  # the tied output layer adds nothing


@pytest.mark.parametrize(("layers", "learnable"), [(1, 7_087_872), (2, 14_175_744), (4, 28_351_488)])
def test_course_gpt1_learnable_parameters(layers: int, learnable: int) -> None:
    """GPT-1 blocks (width 768, 12 heads, MLP 3072), frozen token and position embeddings."""
    with torch.device("meta"):
        model = build_gpt(GPTConfig(layers=layers, freeze_embeddings=True), COURSE)
    counts = parameter_counts(model)
    assert counts["trainable"] == counts["non_embedding"] == learnable
    assert counts["total"] == learnable + (40_479 + 256) * 768


def test_gpt_without_biases_has_nanogpts_baby_count() -> None:
    """nanoGPT's baby GPT (C = 128, 4 layers, no biases): 12C² + 2C per block and a final LayerNorm's C,
    by hand 4 · 196,864 + 128 = 787,584 outside the embeddings (66 characters, 64 positions)."""
    with torch.device("meta"):
        model = build_gpt(GPTConfig(width=128, heads=4, layers=4, norm="pre", bias=False), DataInfo("lm", (64,), 66))
    counts = parameter_counts(model)
    assert counts["non_embedding"] == 787_584
    assert counts["total"] == 787_584 + (66 + 64) * 128
    assert not [name for name, _ in model.named_parameters() if name.endswith("bias")]


SMALL = DataInfo("lm", (12,), 50)


def small_models() -> list[torch.nn.Module]:
    torch.manual_seed(0)
    return [
        build_gpt(GPTConfig(width=32, heads=4, layers=2, norm="post"), SMALL),
        build_gpt(GPTConfig(width=32, heads=4, layers=2, norm="pre"), SMALL),
        build_lstm_lm(LSTMLMConfig(embed_dim=16, hidden_dim=24, layers=2), SMALL),
    ]


@pytest.mark.parametrize("model", small_models(), ids=["gpt-post", "gpt-pre", "lstm"])
def test_changing_a_future_token_never_changes_earlier_logits(model: torch.nn.Module) -> None:
    """Causality: logits at positions < t do not depend on the token at t; later ones do."""
    model.eval()
    x = torch.randint(1, 50, (2, 12))
    y = x.clone()
    y[:, 7] = (y[:, 7] % 49) + 1
    out_x, out_y = model(x), model(y)
    assert out_x.shape == (2, 12, 50)
    torch.testing.assert_close(out_x[:, :7], out_y[:, :7])
    assert not torch.allclose(out_x[:, 7:], out_y[:, 7:])


def test_output_layer_is_tied_to_the_token_embedding() -> None:
    """Tied weights are one tensor: training the output trains the embedding."""
    gpt, _, lstm = small_models()
    assert gpt.to_logits.weight is gpt.tokens.weight and lstm.to_logits.weight is lstm.embedding.weight
    untied = build_lstm_lm(LSTMLMConfig(embed_dim=16, hidden_dim=24, tie_weights=False), SMALL)
    assert untied.to_logits.weight is not untied.embedding.weight


def test_pre_norm_has_a_final_layernorm_and_post_norm_does_not() -> None:
    """GPT-2 style adds one final LayerNorm (2C parameters) to the same blocks."""
    post, pre, _ = small_models()
    assert parameter_counts(pre)["total"] - parameter_counts(post)["total"] == 2 * 32


@pytest.mark.parametrize(("init", "residual_std"), [("gpt2", 0.02 / 8**0.5), ("gpt1", 0.02)])
def test_gpt2_init_scales_the_residual_projections_and_gpt1_init_does_not(init: str, residual_std: float) -> None:
    """Every weight is drawn from N(0, 0.02); `init: gpt2` redraws the attention output and second MLP
    projection of each of the 4 blocks with std 0.02 / √(2 · 4)."""
    torch.manual_seed(0)
    model = build_gpt(GPTConfig(width=256, heads=4, layers=4, norm="pre", init=init), DataInfo("lm", (64,), 66))
    for block in model.blocks:
        for proj in (block.attn.to_out, block.mlp[2]):
            assert proj.weight.std().item() == pytest.approx(residual_std, rel=0.03)
        assert block.attn.to_q.weight.std().item() == pytest.approx(0.02, rel=0.03)
        assert block.mlp[0].weight.std().item() == pytest.approx(0.02, rel=0.03)
