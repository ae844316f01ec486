"""The `batch_size:` section of a study, without torch."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class BatchSizeSection(BaseModel):
    """The `batch_size:` section of a study (and of an `nqm` study's report)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: float  # the validation value to reach (of `metric`)
    metric: str = "loss"  # a validation metric the runs log
    group: str = "optim.name"  # one trade-off curve per value of this config key
    resamples: int = Field(1000, ge=0, le=100_000)  # bootstrap refits of B_crit
    seed: int = Field(0, ge=0)
