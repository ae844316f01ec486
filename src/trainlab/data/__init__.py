"""Dataset registry: name -> (config class, loader returning a DataBundle on the CPU)."""

from trainlab.data.base import DataBundle, DataInfo, TensorSplit, split_by_permutation
from trainlab.data.cifar import load_cifar10
from trainlab.data.images import ImageConfig, load_fashion_mnist, load_mnist
from trainlab.data.plugin import data_plugin
from trainlab.data.seq2seq import (
    Multi30kConfig,
    PairSplit,
    ParallelTextConfig,
    PigLatinConfig,
    load_multi30k,
    load_parallel_text,
    load_pig_latin,
)
from trainlab.data.synthetic import TeacherAttentionConfig, load_teacher_attention
from trainlab.data.text import (
    TextConfig,
    TinyShakespeareConfig,
    TokenWindows,
    WikiText2BPEConfig,
    load_text,
    load_tinyshakespeare,
    load_wikitext2_bpe,
)
from trainlab.data.text_classification import (
    TextClassificationConfig,
    VerbalArithmeticConfig,
    load_text_classification,
    load_verbal_arithmetic,
)
from trainlab.registry import Registry

DATASETS = Registry("data", "trainlab.datasets", data_plugin)
DATASETS.register("teacher_attention", load_teacher_attention, TeacherAttentionConfig)
DATASETS.register("mnist", load_mnist, ImageConfig)
DATASETS.register("fashion_mnist", load_fashion_mnist, ImageConfig)
DATASETS.register("cifar10", load_cifar10, ImageConfig)
DATASETS.register("wikitext2_bpe", load_wikitext2_bpe, WikiText2BPEConfig)
DATASETS.register("text", load_text, TextConfig)
DATASETS.register("tinyshakespeare", load_tinyshakespeare, TinyShakespeareConfig)
DATASETS.register("pig_latin", load_pig_latin, PigLatinConfig)
DATASETS.register("multi30k", load_multi30k, Multi30kConfig)
DATASETS.register("parallel_text", load_parallel_text, ParallelTextConfig)
DATASETS.register("verbal_arithmetic", load_verbal_arithmetic, VerbalArithmeticConfig)
DATASETS.register("text_classification", load_text_classification, TextClassificationConfig)

__all__ = ["DATASETS", "DataBundle", "DataInfo", "PairSplit", "TensorSplit", "TokenWindows", "split_by_permutation"]
