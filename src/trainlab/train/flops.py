"""FLOPs per training example: measured by PyTorch's FLOP counter, and analytic where a formula is standard.

Analytic training FLOPs are 3× the forward FLOPs (backward ≈ 2× forward, Kaplan et al. 2020, §2.1).
Forward FLOPs per token, counting a multiply-add as 2:
- decoder Transformer (Kaplan et al. 2020, Table 1): 2·N + 2·L·T·C, where N counts the weights of the
  blocks' matrix multiplies and of the (tied) output projection C·V, and 2·L·T·C is attention over T
  positions (QKᵀ and the weighted sum, causal masking not subtracted);
- LSTM language model: 2·(Σ_layers 4H(E_in + H) + H·E + E·V), the gate matmuls, projection and logits.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from trainlab.data.base import DataInfo


def measured_train_flops(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor) -> int:  # noqa: ANN001
    """FLOPs of one forward + backward on (x, y), counted by torch.utils.flop_counter; grads are cleared.
    A model with nothing to train (zero-shot) is only run forward, as its training steps are."""
    trains = any(p.requires_grad for p in model.parameters())
    with FlopCounterMode(display=False) as counter, torch.set_grad_enabled(trains):
        loss = loss_fn(model(x), y)
        if trains:
            loss.backward()
    model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def _matmul_weights(modules: list[nn.Module]) -> int:
    return sum(m.weight.numel() for block in modules for m in block.modules() if isinstance(m, nn.Linear))


def analytic_train_flops_per_token(model_name: str, model: nn.Module, info: DataInfo) -> float | None:
    """Training FLOPs per target token for the families with a standard formula, else None."""
    if info.task != "lm":
        return None
    V, T = info.num_classes, info.input_shape[0]
    if model_name == "gpt":
        C = model.tokens.embedding_dim
        n = _matmul_weights(list(model.blocks)) + C * V
        return 3 * (2 * n + 2 * len(model.blocks) * T * C)
    if model_name == "lstm_lm":
        lstm = model.lstm
        E, H = lstm.input_size, lstm.hidden_size
        gates = sum(4 * H * ((E if layer == 0 else H) + H) for layer in range(lstm.num_layers))
        E_out = model.to_logits.in_features
        return 3 * 2 * (gates + H * E_out + E_out * V)
    return None
