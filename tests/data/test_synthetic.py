"""teacher_attention: deterministic, disjoint splits, labels that depend on the teacher seed."""

from __future__ import annotations

import torch

from trainlab.data import DATASETS
from trainlab.data.synthetic import TeacherAttentionConfig, load_teacher_attention


def test_same_config_same_data_and_splits_are_disjoint() -> None:
    """Two loads are identical; train and valid share no example; sizes follow the fractions."""
    cfg = TeacherAttentionConfig(n=1000, test_n=100, valid_fraction=0.3)
    a, b = load_teacher_attention(cfg), load_teacher_attention(cfg)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.valid.y, b.valid.y)
    assert (len(a.train), len(a.valid), len(a.test)) == (700, 300, 100)
    rows = {tuple(r.flatten().tolist()) for r in a.train.x}
    assert not any(tuple(r.flatten().tolist()) in rows for r in a.valid.x)
    assert a.info.input_shape == (cfg.seq_len, cfg.dim) and a.info.num_classes == cfg.classes


def test_labels_come_from_the_teacher() -> None:
    """Every class occurs; a different teacher seed relabels the data."""
    a = load_teacher_attention(TeacherAttentionConfig(n=2000, test_n=0))
    b = load_teacher_attention(TeacherAttentionConfig(n=2000, test_n=0, teacher_seed=1))
    assert a.test is None
    assert set(a.train.y.tolist()) == set(range(10))
    assert not torch.equal(a.train.y, b.train.y)


def test_registry_entry_is_teacher_attention() -> None:
    """The registry maps the name to this loader and config."""
    entry = DATASETS.get("teacher_attention")
    assert entry.build is load_teacher_attention and entry.config is TeacherAttentionConfig


def test_shuffled_batches_cover_the_split_once() -> None:
    """An epoch of shuffled batches visits every example exactly once, in a seeded order."""
    split = load_teacher_attention(TeacherAttentionConfig(n=130, test_n=0)).train
    ys = [y for _, y in split.batches(16, generator=torch.Generator().manual_seed(0))]
    assert sum(len(y) for y in ys) == len(split) == 91 and len(ys) == split.num_batches(16) == 6
    assert sorted(torch.cat(ys).tolist()) == sorted(split.y.tolist())
