"""Every registered model: builds from its default config, forward, backward, finite, size on CPU."""

from __future__ import annotations

import importlib.util

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call, vmap
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils._python_dispatch import TorchDispatchMode

from trainlab.data import DataInfo
from trainlab.models import MODELS, MultiHeadAttention
from trainlab.models.attention import MembersFolded
from trainlab.train.measure import parameter_counts
from trainlab.train.packed import stacked

SEQUENCE = DataInfo("classification", (8, 12), 5)
TOKENS = DataInfo("lm", (16,), 300)
GREY = DataInfo("classification", (1, 28, 28), 5)  # Fashion-MNIST-sized: every image model must take it
PAIRS = DataInfo("seq2seq", (9, 11), 50)
TEXT = DataInfo("classification", (3, 12), 5, vocab=30522, tokenizer="all-MiniLM-L6-v2")  # (ids, mask, number)
NAMED_GREY = DataInfo("classification", (1, 28, 28), 5, class_names=("a", "b", "c", "d", "e"))
INPUTS = {
    "lstm_lm": TOKENS,
    "gpt": TOKENS,
    "attention_classifier": SEQUENCE,
    "transformer_seq2seq": PAIRS,
    "decoder_only_seq2seq": PAIRS,
    "hf_encoder": TEXT,
    "hf_clip": NAMED_GREY,
}  # others: images
CONFIGS = {"hf_clip": {"pretrained": "tiny-random", "mode": "fine_tune"}}  # its default: a Hub download, zero-shot
NEEDS = {"hf_encoder": ("transformers", "all_minilm_l6_v2"), "hf_clip": ("transformers",)}


def _tokens(n: int) -> torch.Tensor:
    ids = torch.randint(1000, 2000, (n, 12))
    return torch.stack([ids, torch.ones_like(ids), torch.arange(n).unsqueeze(1).expand_as(ids)], dim=1)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("entry", list(MODELS), ids=lambda e: e.name)
def test_every_model_trains_a_step(entry, precision: str) -> None:  # noqa: ANN001
    """Forward a batch (also under bf16 autocast, train.precision=bf16), backward, every gradient finite
    and float32; parameter count printed and < 50M on CPU."""
    missing = [m for m in NEEDS.get(entry.name, ()) if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (pip install -e '.[transfer]')")
    torch.manual_seed(0)
    info = INPUTS.get(entry.name, GREY)
    model = entry.build(entry.config(name=entry.name, **CONFIGS.get(entry.name, {})), info)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        if info.task == "seq2seq":  # (source, target input) -> logits over the target output
            src, tgt = torch.randint(5, 50, (4, 9)), torch.randint(5, 50, (4, 10))
            src[1, 4:] = 0  # a padded source
            out = model((src, tgt))
            assert out.shape == (4, 10, info.num_classes)
            loss = torch.nn.functional.cross_entropy(out.flatten(0, 1), tgt.flatten())
        elif info.task == "lm":
            x = torch.randint(1, info.num_classes, (4, *info.input_shape))
            out = model(x)
            assert out.shape == (4, *info.input_shape, info.num_classes)
            loss = torch.nn.functional.cross_entropy(out.flatten(0, 1), x.flatten())
        else:
            out = model(_tokens(4) if info.vocab else torch.randn(4, *info.input_shape))
            assert out.shape == (4, info.num_classes)
            loss = torch.nn.functional.cross_entropy(out, torch.tensor([0, 1, 2, 3]))
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads)
    counts = parameter_counts(model)
    print(f"{entry.name}: {counts['total']:,} parameters")
    assert 0 < counts["trainable"] <= counts["total"] < 50_000_000


@pytest.mark.parametrize(("heads", "size"), [(1, 8), (4, 8), (8, 32)])
def test_attention_parameter_count_is_4_h2d2_plus_hd(heads: int, size: int) -> None:
    """Q, K, V, O with biases: 4(h²d² + hd) parameters for h heads of size d."""
    attn = MultiHeadAttention(dim=heads * size, heads=heads)
    assert parameter_counts(attn)["total"] == 4 * (heads**2 * size**2 + heads * size)


@pytest.mark.parametrize("causal", [False, True])
def test_fused_attention_equals_the_explicit_softmax(causal: bool) -> None:
    """scaled_dot_product_attention and softmax(QKᵀ/√d)V give the same output."""
    torch.manual_seed(0)
    attn = MultiHeadAttention(dim=32, heads=4, causal=causal).eval()
    x = torch.randn(3, 10, 32)
    fused = attn(x)
    attn.fused = False
    torch.testing.assert_close(attn(x), fused, rtol=1e-5, atol=1e-6)


class FusedCalls(TorchDispatchMode):
    """How many times torch's fused CPU attention kernel runs while it is on (below vmap: batched calls)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        self.calls += func.overloadpacket == torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("mask", ["none", "shared", "causal", "per_member"])
def test_attention_under_vmap_is_one_fused_call_equal_to_each_member_alone(mask: str) -> None:
    """Packed training calls a model under vmap, which has no batching rule for the fused kernel (the packed
    step allows only the math path): MultiHeadAttention then calls the fused kernel once for every member
    (attention.MembersFolded), and each member's output and gradients are its module's alone. Masks: none, one
    for every member (padding, broadcast over heads and queries), causal, and one per member."""
    torch.manual_seed(0)
    modules = [MultiHeadAttention(dim=16, heads=4, causal=mask == "causal") for _ in range(3)]
    x = torch.randn(3, 2, 5, 16)  # (members, batch, tokens, width)
    shared = torch.tensor([[True] * 3 + [False] * 2, [True] * 5]).view(2, 1, 1, 5)
    masks = {"shared": shared, "per_member": torch.rand(3, 2, 1, 1, 5) < 0.7}.get(mask)
    if masks is not None:
        masks[..., 0] = True  # every query sees a key
    alone = torch.stack(
        [
            m(x[i], mask=masks if mask == "shared" else masks[i] if mask == "per_member" else None)
            for i, m in enumerate(modules)
        ]
    )
    alone.square().sum().backward()
    params = {n: t.requires_grad_() for n, t in stacked(modules).items()}

    def member(p: dict, x: torch.Tensor, m: torch.Tensor | None) -> torch.Tensor:
        return functional_call(modules[0], p, (x,), {"mask": m})

    with sdpa_kernel(SDPBackend.MATH), FusedCalls() as fused:  # as the packed step calls models
        packed = vmap(member, in_dims=(0, 0, 0 if mask == "per_member" else None))(params, x, masks)
    packed.square().sum().backward()
    assert fused.calls == 1
    torch.testing.assert_close(packed, alone, rtol=1e-5, atol=1e-6)
    for name, p in params.items():
        torch.testing.assert_close(p.grad, torch.stack([dict(m.named_parameters())[name].grad for m in modules]))


def test_members_folded_called_directly_is_the_fused_kernel() -> None:
    """Outside vmap (plain tensors) MembersFolded is scaled_dot_product_attention, backward included."""
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 4, 5, 8, requires_grad=True) for _ in range(3))
    ours = MembersFolded.apply(q, k, v, None, 0.0, True)
    (dq, dk, dv) = torch.autograd.grad(ours.square().sum(), (q, k, v))
    theirs = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(ours, theirs)
    for ours_grad, theirs_grad in zip((dq, dk, dv), torch.autograd.grad(theirs.square().sum(), (q, k, v))):
        torch.testing.assert_close(ours_grad, theirs_grad)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("length", [10, 200])  # the explicit path under CPU bf16 autocast, and the fused one
def test_attention_under_bf16_autocast_matches_float32(causal: bool, length: int) -> None:
    """Under bfloat16 autocast (train.precision=bf16) attention computes the same function, to bf16's
    precision (8 bits of mantissa), with gradients for every parameter."""
    torch.manual_seed(0)
    attn = MultiHeadAttention(dim=32, heads=4, causal=causal)
    x = torch.randn(2, length, 32)
    reference = attn(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = attn(x)
    assert low.dtype == torch.bfloat16
    torch.testing.assert_close(low.float(), reference, rtol=0.05, atol=0.03)
    low.float().sum().backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in attn.parameters())


def test_causal_attention_ignores_the_future() -> None:
    """Changing token t never changes outputs before t."""
    torch.manual_seed(0)
    attn = MultiHeadAttention(dim=16, heads=2, causal=True).eval()
    x = torch.randn(1, 6, 16)
    y = x.clone()
    y[:, 4] += 1.0
    torch.testing.assert_close(attn(x)[:, :4], attn(y)[:, :4])
    assert not torch.allclose(attn(x)[:, 4], attn(y)[:, 4])


CIFAR10 = DataInfo("classification", (3, 32, 32), 10)
EXACT_COUNTS = {  # the UvA tutorial's and IFT6135's published counts on CIFAR-10; LeNet-300-100 on MNIST
    ("googlenet", ()): 260_650,
    ("resnet", ()): 272_378,
    ("resnet_preact", ()): 272_250,
    ("densenet", ()): 239_146,
    ("vit", (("layers", 2),)): 1_086_730,
    ("vit", (("layers", 4),)): 2_140_938,
    ("vit", (("layers", 6),)): 3_195_146,
    ("vit", (("layers", 6), ("block", "postnorm"))): 3_195_146,
}


@pytest.mark.parametrize(("key", "count"), list(EXACT_COUNTS.items()), ids=lambda k: str(k))
def test_published_parameter_counts(key: tuple, count: int) -> None:
    """Each course architecture has exactly its published parameter count on CIFAR-10."""
    name, options = key
    entry = MODELS.get(name)
    with torch.device("meta"):
        model = entry.build(entry.config(name=name, **dict(options)), CIFAR10)
    assert parameter_counts(model)["total"] == count


def test_lenet_300_100_is_784_300_100_10() -> None:
    """(784·300 + 300) + (300·100 + 100) + (100·10 + 10) = 266,610 parameters."""
    entry = MODELS.get("lenet_300_100")
    model = entry.build(entry.config(), DataInfo("classification", (1, 28, 28), 10))
    assert parameter_counts(model)["total"] == 266_610
