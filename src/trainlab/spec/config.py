"""The run config: five sections, each a frozen pydantic model that rejects unknown fields.

`optim`, `schedule` and `train` have one schema for every name, so keys such as `lr` carry over when a
run entry switches `optim.name`. `data` and `model` have one schema per registered name (a ViT and an
MLP share few options); those classes live beside their builders and reach the spec through a Catalog.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SECTIONS = ("data", "model", "optim", "schedule", "train")


class Section(BaseModel):
    """A config section: frozen, strict about unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Fields that locate things rather than change results (a data folder): left out of run ids.
    not_in_id: ClassVar[frozenset[str]] = frozenset()
    # A plugin's source digest (trainlab.spec.plugin): part of run ids unless the section states a `version`.
    plugin_source: ClassVar[str | None] = None


class Named(Section):
    """A section whose `name` picks an entry of a registry."""

    name: str


class HeadsSplitWidth(Named):
    """A config with attention heads: its width field (`width_field`) must split evenly across `heads`."""

    width_field: ClassVar[str] = "dim"

    @model_validator(mode="after")
    def _heads_divide_width(self) -> HeadsSplitWidth:
        width, heads = getattr(self, self.width_field), self.heads
        if width % heads:
            raise ValueError(f"{self.width_field} ({width}) must be divisible by heads ({heads})")
        return self


class OptimConfig(Named):
    """Optimizer hyperparameters; `momentum` is read by momentum/nesterov, `betas`/`eps` by adam/adamw."""

    name: str = "sgd"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    # matrices: decay only parameters with 2+ dimensions (weights, embeddings), not biases and norm gains
    # (GPT-2 and nanoGPT practice)
    decay: Literal["all", "matrices"] = "all"
    momentum: float = Field(0.9, ge=0, lt=1)
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = Field(1e-8, gt=0)

    @model_validator(mode="after")
    def _betas_in_range(self) -> OptimConfig:
        if not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must each be in [0, 1) (got {list(self.betas)})")
        return self


class ScheduleConfig(Named):
    """Learning-rate schedule. Epoch-wise: plateau, step; step-wise: cosine, warmup_cosine, noam."""

    name: str = "none"
    factor: float = Field(0.1, gt=0, lt=1)  # plateau: multiply lr by this on a plateau
    patience: int = Field(10, ge=0)  # plateau: epochs without improvement before a drop
    step_size: int = Field(30, ge=1)  # step: epochs between drops (unless milestones)
    milestones: tuple[int, ...] = ()  # step: drop at these epochs instead of every step_size
    gamma: float = Field(0.1, gt=0, le=1)  # step: multiply lr by this at each drop
    warmup_steps: int = Field(0, ge=0)  # warmup_cosine, noam: linear warmup from 0
    min_lr: float = Field(0.0, ge=0)  # cosine, warmup_cosine: floor of the decay
    lr_mul: float = Field(1.0, gt=0)  # noam: lr = lr_mul · d_model^-0.5 · min(t^-0.5, t · warmup^-1.5)
    d_model: int = Field(512, ge=1)  # noam

    @model_validator(mode="after")
    def _noam_warms_up(self) -> ScheduleConfig:
        if self.name == "noam" and self.warmup_steps < 1:
            raise ValueError("warmup_steps: noam needs warmup_steps >= 1 (the paper used 4000)")
        return self


class TrainConfig(Section):
    """How long and how to train; everything here can change the result, so it is in the run id."""

    epochs: int = Field(10, ge=1)
    steps: int | None = Field(None, ge=1)  # train this many optimizer steps instead of `epochs` epochs
    batch_size: int = Field(128, ge=1)
    eval_batch_size: int | None = Field(None, ge=1)  # default: the training batch size
    seed: int = Field(0, ge=0)
    # Evaluate every this many steps instead of at each data epoch's end; rounds between evaluations are
    # then the store's epochs (checkpoints, best model, plateau schedules and early stopping count them).
    eval_every_steps: int | None = Field(None, ge=1)
    eval_batches: int | None = Field(None, ge=1)  # validate on a fixed seeded sample of this many batches
    # log McCandlish et al.'s simple noise scale, measured every noise_scale_every steps (one extra
    # forward/backward on half the batch each time)
    gradient_noise_scale: bool = False
    noise_scale_every: int = Field(10, ge=1)
    early_stopping_patience: int | None = Field(None, ge=1)
    clip_grad_norm: float | None = Field(None, gt=0)
    keep_epoch_checkpoints: bool = False  # save each epoch's weights (landscape animations, trajectories)
    # bf16: forward passes under autocast (matmuls in bfloat16, weights and optimizer state in float32)
    precision: Literal["fp32", "bf16"] = "fp32"
    compile: bool = False  # torch.compile the model (pays on GPUs; on 2 CPU cores it measured slower)
    label_smoothing: float = Field(0.0, ge=0, lt=1)  # translation: of the training loss (Szegedy et al. 2016)
    beam_size: int = Field(1, ge=1)  # translation: 1 decodes greedily
    length_penalty: float = Field(0.6, ge=0)  # translation, beam search: GNMT's α (Wu et al. 2016)

    def total_steps(self, steps_per_epoch: int) -> int:
        return self.steps or self.epochs * steps_per_epoch

    def max_epochs(self, steps_per_epoch: int) -> int:
        return -(-self.total_steps(steps_per_epoch) // steps_per_epoch)  # ceiling division


SHARED_SCHEMAS: dict[str, type[Section]] = {
    "optim": OptimConfig,
    "schedule": ScheduleConfig,
    "train": TrainConfig,
}


class RunConfig(BaseModel):
    """A fully resolved, validated run config."""

    model_config = ConfigDict(frozen=True)

    data: Any
    model: Any
    optim: OptimConfig
    schedule: ScheduleConfig
    train: TrainConfig

    def sections(self) -> dict[str, Section]:
        return {name: getattr(self, name) for name in SECTIONS}

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Every field, defaults included (for manifests and the store)."""
        return {name: sec.model_dump(mode="json") for name, sec in self.sections().items()}

    def canonical(self) -> dict[str, dict[str, Any]]:
        """Fields that differ from their defaults, plus names; the input of the run id (OpenLTH style)."""
        out = {}
        for name, sec in self.sections().items():
            fields = sec.model_dump(mode="json", exclude_defaults=True, exclude=set(sec.not_in_id))
            if isinstance(sec, Named):
                fields["name"] = sec.name
            if sec.plugin_source and getattr(sec, "version", None) is None:
                fields["source"] = sec.plugin_source  # an edited plugin makes new runs
            out[name] = fields
        return out
