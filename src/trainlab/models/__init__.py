"""Model registry: name -> (config class, builder(config, DataInfo) -> nn.Module)."""

from trainlab.models.attention import MultiHeadAttention
from trainlab.models.attention_classifier import AttentionClassifierConfig, build_attention_classifier
from trainlab.models.gpt import GPTConfig, build_gpt
from trainlab.models.lstm_lm import LSTMLMConfig, build_lstm_lm
from trainlab.models.mlp import MLPConfig, build_mlp
from trainlab.registry import Registry

MODELS = Registry("model")
MODELS.register("attention_classifier", build_attention_classifier, AttentionClassifierConfig)
MODELS.register("mlp", build_mlp, MLPConfig)
MODELS.register("lstm_lm", build_lstm_lm, LSTMLMConfig)
MODELS.register("gpt", build_gpt, GPTConfig)

__all__ = ["MODELS", "MultiHeadAttention"]
