"""What a lottery study says and what its runs carry, without torch: the `lottery:` section, the two parts
of a run's id it adds (how its mask is made, where it starts), and the names its plan writes into each
run's changes and its report reads back."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Roles of inputs (RunInput.role) besides `weights`: the run whose trained weights (and mask) a run prunes,
# and the far end of a starting-point grid.
PRUNE, TARGET = "prune", "target"
# Keys of a run's recipe (hashed into its id under these names).
PRUNE_KEY, START_KEY = "prune", "start"
# What each run is, in its changes: its role, level and grid point.
ROLE, LEVEL, ALPHA, BETA = "lottery.run", "lottery.level", "lottery.alpha", "lottery.beta"
TICKET, START_GRID, ONE_SHOT, ONE_SHOT_FRESH = "ticket", "start_grid", "one_shot", "one_shot_random_init"
Control = Literal["random_reinit", "random_prune"]
RANDOM_REINIT, RANDOM_PRUNE = "random_reinit", "random_prune"


@dataclass(frozen=True)
class PruneSpec:
    """How a run's mask is made from its `prune` input: remove `amount` of that run's remaining prunable
    weights by magnitude (per layer, or globally); or take its mask as it is (method `same`); or keep as
    many weights per layer as its mask does but at random places (method `random`). `reinit` starts
    from a fresh initialisation instead of the `weights` input. Part of the run id."""

    method: Literal["magnitude", "same", "random"] = "magnitude"
    amount: float = 0.2
    layer_amounts: tuple[tuple[str, float], ...] = ()  # (name pattern, amount) overrides, e.g. the output layer
    scope: Literal["layer", "global"] = "layer"
    prunable: tuple[str, ...] = ()  # name patterns; empty: weights of Linear and Conv layers, embeddings excepted
    reinit: bool = False
    seed: int = 0  # of random masks and fresh initialisations

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StartPoint:
    """Start from w0 + alpha·(w* - w0) + beta·y: w0 the `weights` input, w* the `target` input, y a random
    direction (seeded) normalised filter by filter to w0 (Li et al. 2018, §4). Part of the run id."""

    alpha: float
    beta: float
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class StartGrid(BaseModel):
    """Starting points w0 + αx + βy for every (α, β) of the grid."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alphas: list[float] = Field(min_length=1)
    betas: list[float] = Field(min_length=1)
    prune: float = Field(0.0, ge=0, lt=1)  # fraction of the dense run pruned once (magnitude) before training
    seed: int = Field(0, ge=0)  # of the random direction y


class LotterySection(BaseModel):
    """The `lottery:` section of a study."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    levels: int = Field(5, ge=0, le=100)  # pruning levels after the dense run
    fraction: float = Field(0.2, gt=0, lt=1)  # of the weights the previous level kept, pruned per level
    layer_fractions: dict[str, float] = {}  # parameter-name pattern -> its own fraction (e.g. the output layer)
    scope: Literal["layer", "global"] = "layer"
    prunable: list[str] = []  # parameter-name patterns; default: weights of Linear/Conv layers, not embeddings
    rewind: str = Field("init", pattern=r"^(init|epoch:[1-9]\d*|step:[1-9]\d*)$")  # where survivors restart
    controls: list[Control] = []
    one_shot: list[float] = []  # fractions of the dense run pruned at once, from recorded and from fresh init
    start_grid: StartGrid | None = None

    @field_validator("layer_fractions")
    @classmethod
    def _fractions_in_range(cls, fractions: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in fractions.items() if not 0 < v < 1}
        if bad:
            raise ValueError(f"each must be in (0, 1) (got {bad})")
        return fractions

    @field_validator("one_shot")
    @classmethod
    def _one_shot_in_range(cls, fractions: list[float]) -> list[float]:
        if any(not 0 < f < 1 for f in fractions):
            raise ValueError(f"each pruned fraction must be in (0, 1) (got {fractions})")
        return fractions

    def prune_spec(self, seed: int, **changes: Any) -> PruneSpec:
        spec = PruneSpec(
            amount=self.fraction,
            layer_amounts=tuple(self.layer_fractions.items()),
            scope=self.scope,
            prunable=tuple(self.prunable),
            seed=seed,
        )
        return replace(spec, **changes)
