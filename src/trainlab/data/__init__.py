"""Dataset registry: name -> (config class, loader returning a DataBundle on the CPU)."""

from trainlab.data.base import DataBundle, DataInfo, TensorSplit, split_by_permutation
from trainlab.data.images import IDXConfig, load_fashion_mnist, load_mnist
from trainlab.data.synthetic import TeacherAttentionConfig, load_teacher_attention
from trainlab.registry import Registry

DATASETS = Registry("data")
DATASETS.register("teacher_attention", load_teacher_attention, TeacherAttentionConfig)
DATASETS.register("mnist", load_mnist, IDXConfig)
DATASETS.register("fashion_mnist", load_fashion_mnist, IDXConfig)

__all__ = ["DATASETS", "DataBundle", "DataInfo", "TensorSplit", "split_by_permutation"]
