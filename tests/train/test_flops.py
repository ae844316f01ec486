"""FLOP accounting: the counter against hand formulas, and the analytic LM formulas term by term."""

from __future__ import annotations

import torch

from trainlab.data import DataInfo
from trainlab.models.gpt import GPTConfig, build_gpt
from trainlab.models.lstm_lm import LSTMLMConfig, build_lstm_lm
from trainlab.models.mlp import MLPConfig, build_mlp
from trainlab.train.flops import analytic_train_flops_per_token, measured_train_flops
from trainlab.train.measure import analytic_memory_mb, parameters_by_module
from trainlab.train.tasks import Classification, LanguageModeling


def test_mlp_step_flops_match_the_hand_count() -> None:
    """784-64-10 MLP, batch 8: forward 2·B·Σ(in·out); backward the weight grads of both layers and the
    input grad of the second only (the input needs no gradient)."""
    info = DataInfo("classification", (1, 28, 28), 10)
    model = build_mlp(MLPConfig(name="mlp", hidden=(64,)), info)
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    a, b = 784 * 64, 64 * 10
    expected = 2 * 8 * (a + b) + 2 * 8 * (a + b) + 2 * 8 * b
    assert measured_train_flops(model, Classification(info).loss, x, y) == expected
    assert all(p.grad is None for p in model.parameters())


def test_gpt_analytic_flops_match_the_counter_outside_attention() -> None:
    """6·(block matmul weights + C·V) per token is what the counter sees; the analytic total adds
    Kaplan et al.'s attention term 3·2·L·T·C, which the counter misses in the fused CPU kernel."""
    info = DataInfo("lm", (16,), 300)
    model = build_gpt(GPTConfig(width=32, heads=4, layers=2), info)
    x = torch.randint(1, 300, (4, 16))
    per_token = measured_train_flops(model, LanguageModeling(info).loss, x, x) / x.numel()
    analytic = analytic_train_flops_per_token("gpt", model, info)
    block_weights = 2 * (4 * 32 * 32 + 2 * 4 * 32 * 32)  # Q, K, V, O and the two MLP matrices, 2 layers
    assert analytic == 6 * (block_weights + 32 * 300) + 6 * 2 * 16 * 32
    assert per_token == analytic - 6 * 2 * 16 * 32


def test_lstm_analytic_flops_count_the_gates_the_counter_cannot_see() -> None:
    """The counter sees only the projection and logits; the analytic count adds 4H(E_in + H) per layer."""
    info = DataInfo("lm", (16,), 300)
    model = build_lstm_lm(LSTMLMConfig(embed_dim=32, hidden_dim=48, layers=2), info)
    x = torch.randint(1, 300, (4, 16))
    per_token = measured_train_flops(model, LanguageModeling(info).loss, x, x) / x.numel()
    gates = 4 * 48 * (32 + 48) + 4 * 48 * (48 + 48)
    assert per_token == 6 * (48 * 32 + 32 * 300)
    assert analytic_train_flops_per_token("lstm_lm", model, info) == 6 * (gates + 48 * 32 + 32 * 300)
    assert analytic_train_flops_per_token("mlp", model, DataInfo("classification", (4,), 2)) is None


def test_memory_split_and_parameters_by_module() -> None:
    """Adam keeps two fp32 moments per parameter; parameters per top-level module add up."""
    info = DataInfo("classification", (1, 28, 28), 10)
    model = build_mlp(MLPConfig(name="mlp", hidden=(64,)), info)
    opt = torch.optim.Adam(model.parameters())
    torch.nn.functional.cross_entropy(model(torch.randn(2, 1, 28, 28)), torch.tensor([1, 2])).backward()
    opt.step()
    mem = analytic_memory_mb(model, opt)
    n = sum(p.numel() for p in model.parameters())
    assert mem["parameters_mb"] == mem["gradients_mb"] == n * 4 / 2**20
    assert abs(mem["optimizer_state_mb"] - 2 * n * 4 / 2**20) < 1e-3  # + Adam's step counters
    assert sum(parameters_by_module(model).values()) == n
