"""What the CLI and notebooks call, one module per command: check, run, report, ls, show, landscape,
scaling-fit, serve, clip-score."""

from trainlab.api.check import check_study, planned_runs
from trainlab.api.clip import score_captions
from trainlab.api.common import DEFAULT_STORE, as_study, store_root
from trainlab.api.landscape import landscape
from trainlab.api.ls import run_summaries
from trainlab.api.report import report_study
from trainlab.api.run import run_study
from trainlab.api.scaling import scaling_fit
from trainlab.api.serve import serve
from trainlab.api.show import describe_run
from trainlab.studies.kind import Outcome, PlanLine

__all__ = [
    "DEFAULT_STORE",
    "Outcome",
    "PlanLine",
    "as_study",
    "check_study",
    "describe_run",
    "landscape",
    "planned_runs",
    "report_study",
    "run_study",
    "run_summaries",
    "scaling_fit",
    "score_captions",
    "serve",
    "store_root",
]
