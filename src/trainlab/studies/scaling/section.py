"""The `scaling:` section of a study, without torch."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ScalingSection(BaseModel):
    """The `scaling:` section of a study."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    budgets: list[float] = Field(min_length=1)  # training FLOPs at which the IsoFLOP profiles are read
    target_flops: float | None = Field(None, gt=0)  # extrapolate N_opt and D_opt to this budget
    params: Literal["non_embedding", "total"] = "non_embedding"  # N's convention (Kaplan et al. 2020 use the first)
    resamples: int = Field(200, ge=0, le=10_000)  # bootstrap refits of the parametric fit (0: no intervals)
    seed: int = Field(0, ge=0)  # of the bootstrap

    @field_validator("budgets")
    @classmethod
    def _positive(cls, budgets: list[float]) -> list[float]:
        if any(b <= 0 for b in budgets):
            raise ValueError(f"each budget must be a positive number of FLOPs (got {budgets})")
        return sorted(budgets)
