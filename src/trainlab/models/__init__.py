"""Model registry: name -> (config class, builder(config, DataInfo) -> nn.Module)."""

from trainlab.models.attention import MultiHeadAttention
from trainlab.models.attention_classifier import (
    AttentionClassifierConfig,
    build_attention_classifier,
)
from trainlab.models.cnn import (
    CNNConfig,
    build_densenet,
    build_googlenet,
    build_resnet,
    build_resnet_preact,
)
from trainlab.models.decoder_only import (
    DecoderOnlySeq2SeqConfig,
    build_decoder_only_seq2seq,
)
from trainlab.models.gpt import GPTConfig, build_gpt
from trainlab.models.hf_clip import HFClipConfig, build_hf_clip
from trainlab.models.hf_encoder import HFEncoderConfig, build_hf_encoder
from trainlab.models.lstm_lm import LSTMLMConfig, build_lstm_lm
from trainlab.models.mlp import (
    LeNet300100Config,
    MLPConfig,
    build_lenet_300_100,
    build_mlp,
)
from trainlab.models.plugin import model_plugin
from trainlab.models.seq2seq import TransformerSeq2SeqConfig, build_transformer_seq2seq
from trainlab.models.vit import ViTConfig, build_vit
from trainlab.registry import Registry

MODELS = Registry("model", "trainlab.models", model_plugin)
MODELS.register("attention_classifier", build_attention_classifier, AttentionClassifierConfig)
MODELS.register("mlp", build_mlp, MLPConfig)
MODELS.register("lstm_lm", build_lstm_lm, LSTMLMConfig)
MODELS.register("gpt", build_gpt, GPTConfig)
MODELS.register("lenet_300_100", build_lenet_300_100, LeNet300100Config)
MODELS.register("vit", build_vit, ViTConfig)
MODELS.register("googlenet", build_googlenet, CNNConfig)
MODELS.register("resnet", build_resnet, CNNConfig)
MODELS.register("resnet_preact", build_resnet_preact, CNNConfig)
MODELS.register("densenet", build_densenet, CNNConfig)
MODELS.register("transformer_seq2seq", build_transformer_seq2seq, TransformerSeq2SeqConfig)
MODELS.register("decoder_only_seq2seq", build_decoder_only_seq2seq, DecoderOnlySeq2SeqConfig)
MODELS.register("hf_encoder", build_hf_encoder, HFEncoderConfig)
MODELS.register("hf_clip", build_hf_clip, HFClipConfig)

__all__ = ["MODELS", "MultiHeadAttention"]
