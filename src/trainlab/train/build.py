"""Turn a RunConfig into live objects: data on the device, model, optimizer, schedule, task."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass

import torch
from torch import nn

from trainlab.data import DATASETS, DataBundle, DataInfo
from trainlab.data.base import DataConfig
from trainlab.errors import TrainlabError
from trainlab.hardware import cpu_has_native_bf16
from trainlab.models import MODELS
from trainlab.optim import OPTIMIZERS, SCHEDULES, Schedule
from trainlab.phases import phase
from trainlab.registry import BUILT_IN
from trainlab.spec import RunConfig, TrainConfig
from trainlab.train import TASKS
from trainlab.train.tasks import Task


class DataCache:
    """Loads each distinct data config once per process (runs of a study usually share one)."""

    def __init__(self) -> None:
        self._cache: dict[str, DataBundle] = {}
        self._moved: dict[tuple[str, str], DataBundle] = {}

    def get(self, config: RunConfig) -> DataBundle:
        data = config.data.resolved(config.model)  # e.g. the tokenizer of the run's pretrained model
        key = _data_key(data)
        if key not in self._cache:
            with phase(f"data {data.name}: reading and preparing"):
                self._cache[key] = DATASETS.get(data.name).build(data)
        return self._cache[key]

    def on(self, config: RunConfig, device: torch.device) -> DataBundle:
        """The run's data on `device`, moved once per process (runs trained together share one copy)."""
        key = (_data_key(config.data.resolved(config.model)), str(device))
        if key not in self._moved:
            self._moved[key] = self.get(config).to(device)
        return self._moved[key]


def _data_key(data: DataConfig) -> str:
    return json.dumps(data.model_dump(mode="json"), sort_keys=True)


@dataclass
class Parts:
    model: nn.Module
    optimizer: torch.optim.Optimizer
    schedule: Schedule
    task: Task


def build_model(config: RunConfig, info: DataInfo) -> nn.Module:
    return MODELS.get(config.model.name).build(config.model, info)


def build_parts(config: RunConfig, data: DataBundle, device: torch.device) -> Parts:
    """Model (initialised from the global RNG, which the caller seeds), optimizer, schedule, task."""
    model = build_model(config, data.info).to(device)
    optimizer = OPTIMIZERS.get(config.optim.name).build(
        _param_groups(model, config.optim.decay, config.optim.lr), config.optim
    )
    total_steps = config.train.total_steps(data.train.num_batches(config.train.batch_size))
    schedule = SCHEDULES.get(config.schedule.name).build(optimizer, config.schedule, total_steps)
    return Parts(model, optimizer, schedule, TASKS.get(data.info.task).build(data.info, config.train))


def _param_groups(model: torch.nn.Module, decay: str, lr: float) -> list[dict]:
    """The trainable parameters; with `decay: matrices`, biases and norm gains (1-D) in a group without
    weight decay; a model with per-parameter learning-rate factors (`lr_scales`, e.g. layer-wise decay)
    gets a group per factor, the full rate first (its learning rate is the one logged). A model with
    nothing to train (zero-shot) gets a placeholder, since torch refuses an optimizer without parameters;
    the loop never steps it (`Loop.trainable`) and only measures the model."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        return [{"params": [torch.nn.Parameter(torch.zeros(()))]}]
    scales = model.lr_scales() if hasattr(model, "lr_scales") else {}
    groups: dict[tuple[float, bool], list[torch.nn.Parameter]] = {}
    for p in params:
        decayed = decay == "all" or p.dim() >= 2
        groups.setdefault((scales.get(p, 1.0), decayed), []).append(p)
    out = []
    for (scale, decayed), members in sorted(groups.items(), key=lambda g: (-g[0][0], not g[0][1])):
        group: dict = {"params": members}
        if scale != 1.0:
            group["lr"] = lr * scale
        if not decayed:
            group["weight_decay"] = 0.0
        out.append(group)
    return out


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA when present; asking for CUDA without it is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise TrainlabError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise TrainlabError(f"--device {name}: unknown device; valid: auto, cpu, cuda, cuda:N") from None


def check_train_options(train: TrainConfig, device: torch.device) -> list[str]:
    """What the machine must offer for `train.precision` and `train.compile`, checked before any work.
    Raises for what cannot run; returns notes for what runs, but slowly."""
    if train.precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise TrainlabError(f"train.precision: bf16 is not supported by {torch.cuda.get_device_name(device)}; use fp32")
    if train.compile and device.type == "cpu" and not any(map(shutil.which, ("c++", "g++", "clang++"))):
        raise TrainlabError(
            "train.compile: torch.compile on CPU needs a C++ compiler (e.g. apt install g++); "
            "or set train.compile: false"
        )
    if train.gradient_noise_scale and train.batch_size < 2:
        raise TrainlabError(
            "train.gradient_noise_scale: needs train.batch_size >= 2 (it compares the batch with its half)"
        )
    if train.precision == "bf16" and device.type == "cpu" and not cpu_has_native_bf16():
        return [
            "train.precision: bf16 on a CPU without native bf16 (AVX-512 BF16, AMX) is emulated, "
            "usually slower than fp32"
        ]
    return []


def check_plugins(config: RunConfig) -> None:
    """An optimizer and a schedule of the user's are built once on a placeholder parameter before any work,
    so that one that cannot be is said in one line, not as a failed run."""
    for section, registry in (("optim", OPTIMIZERS), ("schedule", SCHEDULES)):
        entry = registry.get(getattr(config, section).name)
        if entry.origin == BUILT_IN:
            continue
        placeholder = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=config.optim.lr)
        if section == "optim":
            entry.build([torch.nn.Parameter(torch.zeros(1))], config.optim)
        else:
            entry.build(placeholder, config.schedule, 1)
