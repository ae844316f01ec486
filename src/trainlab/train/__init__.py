"""The training engine: one loop, tasks (loss + metrics), measurement, seeding, checkpoints."""

from trainlab.train.loop import Hook, Loop, LoopState, Row
from trainlab.train.tasks import TASKS

__all__ = ["TASKS", "Hook", "Loop", "LoopState", "Row"]
