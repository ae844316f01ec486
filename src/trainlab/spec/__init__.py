"""Study and run specs: pure Python (no torch), validated before any work starts."""

from trainlab.spec.config import SECTIONS, OptimConfig, RunConfig, ScheduleConfig, Section, TrainConfig
from trainlab.spec.plan import Catalog, IdPart, RunInput, RunSpec, plan_study, resolve, run_id
from trainlab.spec.study import KindSchema, StudySpec, load_study, parse_study

__all__ = [
    "SECTIONS",
    "Catalog",
    "IdPart",
    "KindSchema",
    "OptimConfig",
    "RunConfig",
    "RunInput",
    "RunSpec",
    "ScheduleConfig",
    "Section",
    "StudySpec",
    "TrainConfig",
    "load_study",
    "parse_study",
    "plan_study",
    "resolve",
    "run_id",
]
