"""What a loss-landscape computation asks for (no torch): from `trainlab landscape` flags or from the
`landscape:` section of a `kind: landscape` study."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Metric = Literal["loss", "accuracy", "perplexity"]


class LandscapeSpec(BaseModel):
    """One surface request; its hash names the output folder, so different requests never overwrite."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    checkpoint: str = Field("best", pattern=r"^(best|last|epoch:\d+)$")
    dirs: Literal["random", "pca", "init"] = "random"
    grid: int = Field(41, ge=2, le=1001)  # points per side: 1001² is a million evaluations already
    range: tuple[float, float] = (-1.0, 1.0)
    metrics: tuple[Metric, ...] = ("loss", "accuracy")
    split: Literal["train", "valid", "test"] = "valid"
    max_batches: int | None = Field(8, ge=1)  # None: the whole split
    epochs: Literal["all"] | None = None  # every stored epoch on one fixed basis
    seed: int = Field(0, ge=0)  # of the random directions
    mode: Literal["weights", "states"] = "weights"  # states: BatchNorm statistics move too

    @model_validator(mode="after")
    def _range_ordered(self) -> LandscapeSpec:
        if not self.range[0] < self.range[1]:
            raise ValueError(f"range must be [LO, HI] with LO < HI (got {list(self.range)})")
        return self

    def request(self) -> dict[str, object]:
        """The surface request alone (a study's run selection left out)."""
        return self.model_dump(mode="json", include=set(LandscapeSpec.model_fields))

    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.request(), sort_keys=True).encode()).hexdigest()[:10]


class LandscapeStudy(LandscapeSpec):
    """The `landscape:` section of a study: which stored runs, then the surface request."""

    study: str = Field(min_length=1)  # the train study whose runs to use (it must be in the store)
    experiments: list[int] | None = None  # default: all
    seeds: list[int] | None = None  # default: all
