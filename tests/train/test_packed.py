"""Packed training (trainlab.train.packed): every model of the registry packs with the gradients it has alone
(or is said unpackable, with the reason), and a packed member's training losses step by step are the same
run's alone, for every optimizer of a packed family."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
import yaml
from torch.utils._python_dispatch import TorchDispatchMode

from tests.data.test_images import fake_mnist
from tests.models.test_contract import CONFIGS, GREY, INPUTS, NEEDS, _tokens
from trainlab.models import MODELS
from trainlab.optim.packed import member_rows
from trainlab.studies.catalog import load_study, plan
from trainlab.train import Hook, Loop, seeding
from trainlab.train.build import DataCache, build_parts
from trainlab.train.hooks import config_hooks
from trainlab.train.noise_scale import GradientNoiseScale
from trainlab.train.packed import (
    PackedLoop,
    by_kind,
    gradient_orders,
    laid_out,
    packed_step,
    packs,
    stacked,
    step_seconds,
    why_alone,
)
from trainlab.train.packed.loop import _clip

MEMBERS = 2


def _inputs(info, n: int, seed: int) -> tuple[object, torch.Tensor]:  # noqa: ANN001
    """A batch of `n` (input, target) for a model of `info`, drawn from `seed`."""
    torch.manual_seed(seed)
    if info.task == "seq2seq":
        src, tgt = torch.randint(5, 50, (n, 9)), torch.randint(5, 50, (n, 10))
        return (src, tgt), tgt
    if info.task == "lm":
        x = torch.randint(1, info.num_classes, (n, *info.input_shape))
        return x, x
    x = _tokens(n) if info.vocab else torch.randn(n, *info.input_shape)
    return x, torch.randint(0, info.num_classes, (n,))


def _loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out.flatten(0, -2), y.flatten())


@pytest.mark.parametrize("entry", list(MODELS), ids=lambda e: e.name)
def test_every_model_packs_with_the_gradients_it_has_alone(entry) -> None:  # noqa: ANN001
    """Two members of different weights and batches: the vmapped losses and gradients equal each member's
    own forward and backward to 1e-5 (eval mode: dropout draws are the one thing packing changes). A model with
    BatchNorm in training mode, its running statistics after the step too, in float64: at these sizes (3
    images, channels of a few pixels) BatchNorm's gradients in fp32 are rounding amplified (densenet's on 16
    images alone in fp32 differed from fp64 by up to 9 %; packed from alone by 2.5 % in fp32 and 1e-14 in
    fp64)."""
    missing = [m for m in NEEDS.get(entry.name, ()) if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (pip install -e '.[transfer]')")
    info = INPUTS.get(entry.name, GREY)
    config = entry.config(name=entry.name, **CONFIGS.get(entry.name, {}))
    members = []
    for seed in range(MEMBERS):
        torch.manual_seed(seed)
        members.append(entry.build(config, info).eval())
    if getattr(members[0], "unpackable", None):
        return  # said unpackable by why_alone
    training = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in members[0].modules())
    dtype = torch.float64 if training else torch.float32
    for model in members:  # running statistics move in training only (these models have no dropout)
        model.train(training).to(dtype)
    batches = [_inputs(info, 3, 10 + i) for i in range(MEMBERS)]
    batches = [
        (torch.utils._pytree.tree_map(lambda t: t.to(dtype) if t.is_floating_point() else t, x), y) for x, y in batches
    ]
    x = torch.utils._pytree.tree_map(lambda *t: torch.stack(t), *[b[0] for b in batches])
    y = torch.stack([b[1] for b in batches])
    trainable = [n for n, p in members[0].named_parameters() if p.requires_grad]
    params = {
        n: torch.stack([dict(m.named_parameters())[n].detach() for m in members]).requires_grad_(n in trainable)
        for n, _ in members[0].named_parameters()
    }
    buffers = {n: torch.stack([dict(m.named_buffers())[n] for m in members]) for n, _ in members[0].named_buffers()}
    # members[0] is the template, as in a pack: afterwards it runs alone as before (the translation model, which
    # registers its embedding twice, was left holding a vmapped weight by torch's weight tying)
    losses, _ = packed_step(members[0], _loss, lambda out, y, loss: loss.reshape(1))(params, buffers, x, y)
    for i, (model, (xi, yi)) in enumerate(zip(members, batches)):
        loss = _loss(model(xi), yi)
        grads = torch.autograd.grad(loss, [p for p in model.parameters() if p.requires_grad])
        torch.testing.assert_close(losses[i], loss.detach(), rtol=1e-5, atol=1e-6)
        for n, g in zip(trainable, grads):
            torch.testing.assert_close(params[n].grad[i], g, rtol=1e-4, atol=1e-5, msg=f"{entry.name} {n}")
        for n, b in model.named_buffers():
            torch.testing.assert_close(buffers[n][i], b, rtol=1e-4, atol=1e-6, msg=f"{entry.name} {n}")


class StepLosses(Hook):
    def __init__(self) -> None:
        self.values: list[float] = []

    def on_step(self, loop: Loop, loss: torch.Tensor) -> None:
        self.values.append(float(loss.detach()))


BASE = {
    "data": {"name": "teacher_attention", "n": 460, "valid_fraction": 0.3},
    "train": {"epochs": 5, "batch_size": 32},  # 11 steps a data epoch: 55 steps
}
MODELS_PACKED = {
    "mlp": {"name": "mlp", "hidden": [16]},
    "attention_classifier": {"name": "attention_classifier", "dim": 16, "heads": 2},
    "batchnorm": {"name": "tests.plugin_code:NormNet", "width": 16},  # a user's model with running statistics
}
RUNS = [  # a pack of each family, and one of every optimizer in an order the pack regroups by kind; each member
    # with its own seed, hyperparameters, schedule, clipping
    [
        {"optim.name": "sgd", "optim.lr": 0.1, "schedule.name": "plateau", "schedule.patience": 0},
        {"optim.name": "momentum", "optim.lr": 0.05, "train.seed": 1, "train.clip_grad_norm": 0.5},
        {"optim.name": "nesterov", "optim.lr": 0.05, "optim.weight_decay": 0.001, "train.seed": 2},
    ],
    [
        {"optim.name": "adam", "optim.lr": 0.01, "schedule.name": "cosine"},
        {"optim.name": "adamw", "optim.lr": 0.003, "optim.weight_decay": 0.1, "train.seed": 3},
        {"optim.name": "adam", "optim.lr": 0.001, "optim.weight_decay": 0.01, "train.early_stopping_patience": 1},
    ],
    [
        {"optim.name": "adam", "optim.lr": 0.01, "schedule.name": "plateau", "schedule.patience": 0},
        {"optim.name": "sgd", "optim.lr": 0.1, "train.seed": 1, "train.clip_grad_norm": 0.5},
        {"optim.name": "adamw", "optim.lr": 0.003, "optim.weight_decay": 0.1, "train.seed": 2},
        # seed 4: at seed 0 this member's BatchNorm amplifies rounding to 1.6e-5 by step 43, packed with runs of
        # any optimizer or with its own kind alike
        {"optim.name": "nesterov", "optim.lr": 0.05, "schedule.name": "cosine", "train.seed": 4},
        {"optim.name": "momentum", "optim.lr": 0.05, "train.seed": 3, "train.early_stopping_patience": 1},
    ],
]


def _loops(
    model: dict, runs: list[dict], data: DataCache, tmp_path, base: dict = BASE
) -> list[tuple[Loop, StepLosses]]:  # noqa: ANN001
    path = tmp_path / "study.yaml"
    path.write_text(
        yaml.safe_dump({"name": "p", "base": {**base, "model": model, "optim": {"name": "sgd"}}, "runs": runs})
    )
    out = []
    for run in plan(load_study(path)):
        torch.manual_seed(seeding.stream_seed(run.config.train.seed, "init"))
        bundle = data.on(run.config, torch.device("cpu"))
        parts = build_parts(run.config, bundle, torch.device("cpu"))
        loop = Loop(
            parts.model, parts.optimizer, parts.schedule, bundle, parts.task, run.config.train, torch.device("cpu")
        )
        losses = StepLosses()
        loop.hooks = [*config_hooks(run.config.train), losses]
        out.append((loop, losses))
    return out


def test_clipping_scales_each_member_as_torch_does_in_any_layout() -> None:
    """Three members' gradients (a matrix stored transposed, as packed weights are, a vector, and one number
    per member) clipped to their own norms equal torch.nn.utils.clip_grad_norm_ on each member alone."""
    shapes = {"weight": (4, 5), "bias": (4,), "scale": ()}
    members = [
        {n: torch.randn(s, generator=torch.Generator().manual_seed(i)) for n, s in shapes.items()} for i in range(3)
    ]
    packed = {n: torch.stack([m[n] for m in members]) for n in shapes}
    packed["weight"] = laid_out(packed["weight"], (0, 2, 1))
    max_norms = [0.5, 100.0, 2.0]  # the second member is under its norm: unchanged
    _clip(packed, torch.tensor(max_norms))
    for i, (member, max_norm) in enumerate(zip(members, max_norms)):
        params = [torch.nn.Parameter(torch.zeros(s)) for s in shapes.values()]
        for p, g in zip(params, member.values()):
            p.grad = g.clone()
        torch.nn.utils.clip_grad_norm_(params, max_norm)
        for (n, _), p in zip(shapes.items(), params):
            torch.testing.assert_close(packed[n][i], p.grad, rtol=1e-6, atol=1e-7)


def test_stacked_weights_are_laid_out_as_their_gradients_arrive() -> None:
    """A vmapped linear layer's weight gradient arrives as the transpose of a contiguous [members, in, out]
    product. Stacked plainly, autograd copies every such gradient into the weight's layout; laid out as
    gradient_orders finds, it keeps the very tensor backward produced (the same memory), with the same values."""
    members = [torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3)) for _ in range(3)]
    step = packed_step(members[0], _loss, lambda out, y, loss: loss.reshape(1))
    x, y = torch.randn(3, 4, 6), torch.randint(0, 3, (3, 4))
    plain = {n: t.requires_grad_() for n, t in stacked(members).items()}
    orders = gradient_orders(step, plain, {}, x, y)
    assert orders == {"0.weight": (0, 2, 1), "0.bias": (0, 1), "2.weight": (0, 2, 1), "2.bias": (0, 1)}
    assert all(p.grad is None for p in plain.values())
    params = {n: laid_out(t.detach(), orders[n]).requires_grad_() for n, t in plain.items()}

    def kept(params: dict[str, torch.Tensor]) -> dict[str, bool]:
        arrived = {}
        handles = [p.register_hook(lambda g, n=n: arrived.__setitem__(n, g.data_ptr())) for n, p in params.items()]
        step(params, {}, x, y)
        for handle in handles:
            handle.remove()
        return {n: p.grad.data_ptr() == arrived[n] for n, p in params.items()}

    assert kept(params) == dict.fromkeys(params, True)
    assert kept({n: t.detach().clone().requires_grad_() for n, t in plain.items()})["0.weight"] is False
    for n, p in params.items():
        assert torch.equal(p, plain[n]) and p.grad.shape == p.shape


def test_a_pack_keeps_each_kind_of_update_side_by_side() -> None:
    """Members are ordered so that each kind of update (Adam and AdamW, plain SGD, momentum, Nesterov) is one
    block of the stacked rows, updated by one rule call: kinds in the order they first come, the members of a
    kind in theirs."""
    p = [torch.nn.Parameter(torch.ones(2))]
    optimizers = {
        "adam": torch.optim.Adam(p),
        "sgd": torch.optim.SGD(p, lr=0.1),
        "adamw": torch.optim.AdamW(p),
        "nesterov": torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
        "momentum": torch.optim.SGD(p, lr=0.1, momentum=0.9),
        "sgd again": torch.optim.SGD(p, lr=0.01),
    }
    members = [SimpleNamespace(name=name, optimizer=o) for name, o in optimizers.items()]
    ordered = [m.name for m in by_kind(members)]  # type: ignore[arg-type]  # by_kind reads only the optimizer
    assert ordered == ["adam", "adamw", "sgd", "sgd again", "nesterov", "momentum"]


def test_each_members_entries_stay_one_block_of_memory() -> None:
    """The packed Adam kernel takes a member's entries as one row (member_rows, a view): a layout that would
    move the member dimension inwards is not taken, and in the layouts taken row i is member i, in memory."""
    t = torch.randn(3, 5, 6)
    assert laid_out(t, (1, 0, 2)) is t
    transposed = laid_out(t, (0, 2, 1))
    for tensor in (t, transposed):
        rows = member_rows(tensor)
        assert rows.shape == (3, 30) and rows.data_ptr() == tensor.data_ptr()
        for i in range(3):
            assert torch.equal(rows[i].sort().values, t[i].flatten().sort().values)
    assert torch.equal(member_rows(transposed)[1], t[1].t().flatten())


@pytest.mark.parametrize("runs", RUNS, ids=["sgd family", "adam family", "every optimizer"])
@pytest.mark.parametrize("model", list(MODELS_PACKED.values()), ids=list(MODELS_PACKED))
def test_a_packed_member_trains_as_it_does_alone(model: dict, runs: list[dict], tmp_path) -> None:  # noqa: ANN001
    """Per-step training losses equal alone's to 1e-5 relative for the first 50 steps, every member; and
    at the end the same epochs, best epoch, best validation value and validation metrics of the last model."""
    data = DataCache()
    alone = _loops(model, runs, data, tmp_path)
    for loop, _ in alone:
        loop.run()
    packed = _loops(model, runs, data, tmp_path)
    groups, left_out = packs([loop for loop, _ in packed], 8)
    assert left_out == [] and len(groups) == 1
    with seeding.private_global_rng(torch.device("cpu")):
        PackedLoop(groups[0]).run()
    for (loop, losses), (twin, twin_losses) in zip(alone, packed):
        assert len(twin_losses.values) == len(losses.values) >= 50 or twin.state.stop_reason == "early_stopping"
        torch.testing.assert_close(
            torch.tensor(twin_losses.values[:50]), torch.tensor(losses.values[:50]), rtol=1e-5, atol=1e-7
        )
        assert (twin.state.epoch, twin.state.best_epoch, twin.state.stop_reason) == (
            loop.state.epoch,
            loop.state.best_epoch,
            loop.state.stop_reason,
        )
        assert twin.state.best_value == pytest.approx(loop.state.best_value, rel=1e-4)
        # the final models compute the same (weights of no influence, e.g. a key bias that softmax cancels, may
        # drift apart under Adam, which normalises their rounding noise)
        ours, theirs = twin.evaluate(twin.data.valid), loop.evaluate(loop.data.valid)
        assert ours["loss"] == pytest.approx(theirs["loss"], rel=1e-4)
        assert ours["accuracy"] == pytest.approx(theirs["accuracy"], abs=1e-9)
        # BatchNorm's running statistics (and its count of batches, which a checkpoint keeps) are the run's own
        torch.testing.assert_close(
            dict(twin.model.named_buffers()), dict(loop.model.named_buffers()), rtol=1e-4, atol=1e-6
        )


class MatrixProducts(TorchDispatchMode):
    """The dtypes of the inputs of every matrix product torch runs while it is on (below vmap: the batched ones)."""

    PRODUCTS = {torch.ops.aten.mm, torch.ops.aten.bmm, torch.ops.aten.addmm, torch.ops.aten.baddbmm}

    def __init__(self) -> None:
        super().__init__()
        self.dtypes: set[torch.dtype] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        if func.overloadpacket in self.PRODUCTS:
            self.dtypes |= {a.dtype for a in args if isinstance(a, torch.Tensor)}
        return func(*args, **(kwargs or {}))


def test_a_packed_bf16_member_computes_in_bf16_and_trains_as_it_does_alone(tmp_path) -> None:  # noqa: ANN001
    """Under vmap, autocast reaches the batched matrix products (forward and backward all take bf16; so does
    --pack auto's timing, packed and alone), and a member's losses are its run's alone to bf16 rounding: not
    bit for bit, since under vmap a layer adding an fp32 bias returns fp32 where alone it returns bf16
    (measured: up to 0.7 % apart in the first 50 steps, as far as fp32 training is from bf16's; 3.6 % at step
    55)."""
    runs = [{**run, "train.precision": "bf16"} for run in RUNS[0]]
    data = DataCache()
    alone = _loops(MODELS_PACKED["mlp"], runs, data, tmp_path)
    for loop, _ in alone:
        loop.run()
    packed = _loops(MODELS_PACKED["mlp"], [*runs, RUNS[0][0]], data, tmp_path)  # and an fp32 run: apart
    groups, left_out = packs([loop for loop, _ in packed], 8)
    assert left_out == [] and [len(g) for g in groups] == [3, 1]
    pack = PackedLoop(groups[0])
    with MatrixProducts() as timing:  # --pack auto's timing: the step packed and alone, both in bf16
        step_seconds(pack, trials=1)
    with seeding.private_global_rng(torch.device("cpu")), MatrixProducts() as products:
        pack.run()
    assert timing.dtypes == products.dtypes == {torch.bfloat16}
    for (_, losses), (_, twin_losses) in zip(alone, packed[:3]):
        assert len(twin_losses.values) == len(losses.values) >= 50
        torch.testing.assert_close(
            torch.tensor(twin_losses.values[:50]), torch.tensor(losses.values[:50]), rtol=2e-2, atol=0
        )


def _pairs(tmp_path) -> dict:  # noqa: ANN001
    (tmp_path / "words.txt").write_text(" ".join(f"{a}{b}{c}" for a in "bcdfgs" for b in "aeiou" for c in "tnp"))
    return {"name": "pig_latin", "words": str(tmp_path / "words.txt"), "size": 300, "max_words": 3}


def _corpus(tmp_path) -> dict:  # noqa: ANN001
    (tmp_path / "corpus.txt").write_text("to be or not to be, that is the question\n" * 100)
    return {"name": "text", "path": str(tmp_path / "corpus.txt"), "seq_len": 16}


@pytest.mark.parametrize(
    ("data", "model"),
    [
        (_pairs, {"name": "transformer_seq2seq", "dim": 16, "heads": 2, "hidden": 32, "layers": 1, "dropout": 0.0}),
        (_corpus, {"name": "gpt", "width": 16, "heads": 2, "layers": 1, "dropout": 0.0}),
    ],
    ids=["translation", "language model"],
)
def test_runs_of_one_seed_pack_on_data_not_held_as_tensors(data, model: dict, tmp_path) -> None:  # noqa: ANN001
    """Sentence pairs padded per batch and token windows: runs of one seed draw the same batches, so they pack
    (the pack draws each batch once) with the losses they have alone, step by step; another seed packs apart.
    The translation model ties its output to an embedding it registers twice (source and target)."""
    base = {"data": data(tmp_path), "train": {"epochs": 3, "batch_size": 16}}
    runs = [{"optim.name": "adam", "optim.lr": lr} for lr in (0.01, 0.003)] + [{"optim.name": "adam", "train.seed": 1}]
    alone = _loops(model, runs, DataCache(), tmp_path, base)
    for loop, _ in alone:
        loop.run()
    packed = _loops(model, runs, DataCache(), tmp_path, base)
    groups, left_out = packs([loop for loop, _ in packed], 8)
    assert left_out == [] and [len(g) for g in groups] == [2, 1]
    with seeding.private_global_rng(torch.device("cpu")):
        PackedLoop(groups[0]).run()
    for (loop, losses), (twin, twin_losses) in zip(alone[:2], packed[:2]):
        assert len(twin_losses.values) == len(losses.values) >= 30
        torch.testing.assert_close(torch.tensor(twin_losses.values), torch.tensor(losses.values), rtol=1e-5, atol=1e-7)
        assert twin.state.best_value == pytest.approx(loop.state.best_value, rel=1e-4)


def test_a_packed_member_measures_the_gradient_noise_scale_it_measures_alone(tmp_path) -> None:  # noqa: ANN001
    """McCandlish's noise scale, measured every 2 steps on the first half of each batch: each member's moving
    averages are its run's alone, and measuring leaves training as it was (losses step by step)."""
    base = {**BASE, "train": {**BASE["train"], "gradient_noise_scale": True, "noise_scale_every": 2}}
    data = DataCache()
    alone = _loops(MODELS_PACKED["mlp"], RUNS[0], data, tmp_path, base)
    for loop, _ in alone:
        loop.run()
    packed = _loops(MODELS_PACKED["mlp"], RUNS[0], data, tmp_path, base)
    groups, left_out = packs([loop for loop, _ in packed], 8)
    assert left_out == [] and len(groups) == 1
    with seeding.private_global_rng(torch.device("cpu")):
        PackedLoop(groups[0]).run()
    for (loop, losses), (twin, twin_losses) in zip(alone, packed):
        torch.testing.assert_close(torch.tensor(twin_losses.values), torch.tensor(losses.values), rtol=1e-5, atol=1e-7)
        ours, theirs = (next(h for h in m.hooks if isinstance(h, GradientNoiseScale)).estimate for m in (twin, loop))
        assert ours.count == theirs.count == 27  # 55 steps, every second one
        assert (ours.grad_sq, ours.trace) == pytest.approx((theirs.grad_sq, theirs.trace), rel=1e-4)


def test_a_run_with_a_hook_that_reads_the_model_at_every_step_trains_alone(tmp_path) -> None:  # noqa: ANN001
    """A hook whose per-step work reads the weights (`Hook.packs` False) keeps its run out of packs, and says so."""

    class Watch(Hook):
        packs = False

    ((loop, _),) = _loops(MODELS_PACKED["mlp"], [{}], DataCache(), tmp_path)
    assert why_alone(loop) is None
    loop.hooks.append(Watch())
    assert why_alone(loop) == "its hooks Watch read the model at every step"


def test_members_on_augmented_data_draw_their_own_augmentations(tmp_path) -> None:  # noqa: ANN001
    """Augmented images: each member's batches come from its own streams of order and augmentation (flips and
    padded crops), as alone, so its losses are its run's alone step by step; members of other seeds and
    optimizers pack."""
    fake_mnist(tmp_path, n_train=90)
    data = {"name": "mnist", "root": str(tmp_path), "valid_size": 10, "augment": ["hflip", "crop"]}
    base = {"data": data, "train": {"epochs": 5, "batch_size": 8}}  # 10 steps a data epoch
    runs = [{"optim.lr": 0.05}, {"optim.lr": 0.01, "train.seed": 1}, {"optim.name": "adam", "train.seed": 2}]
    alone = _loops(MODELS_PACKED["mlp"], runs, DataCache(), tmp_path, base)
    for loop, _ in alone:
        loop.run()
    packed = _loops(MODELS_PACKED["mlp"], runs, DataCache(), tmp_path, base)
    groups, left_out = packs([loop for loop, _ in packed], 8)
    assert left_out == [] and [len(g) for g in groups] == [3]
    with seeding.private_global_rng(torch.device("cpu")):
        PackedLoop(groups[0]).run()
    for (loop, losses), (twin, twin_losses) in zip(alone, packed):
        assert len(twin_losses.values) == len(losses.values) == 50
        torch.testing.assert_close(torch.tensor(twin_losses.values), torch.tensor(losses.values), rtol=1e-5, atol=1e-7)
        assert twin.state.best_value == pytest.approx(loop.state.best_value, rel=1e-4)


def test_a_pack_holds_what_fits_in_memory(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """--pack auto caps a pack by the device's free memory: thousands of these tiny MLPs fit in half of this
    machine's; with almost none to spare, one."""
    from trainlab.train.packed import sizing

    ((loop, _),) = _loops(MODELS_PACKED["mlp"], [{}], DataCache(), tmp_path)
    assert sizing.members_that_fit(loop) > 64
    monkeypatch.setattr(sizing, "MEMORY_SHARE", 1e-9)
    assert sizing.members_that_fit(loop) == 1
