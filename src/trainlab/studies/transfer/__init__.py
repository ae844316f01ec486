"""The `transfer` kind: a train study of pretrained models (frozen, partly frozen or fine-tuned encoders, linear
probes, zero-shot CLIP, the same architecture from a random initialisation). It trains like a train study;
its report leads with what such a study asks (does fine-tuning pay, and at what cost? what does pretraining
buy?) and a table of each experiment's regime beside its metric, time and trainable parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainlab.spec import KindSchema
from trainlab.studies.kind import KINDS
from trainlab.studies.train import TrainKind


class TransferKind(TrainKind):
    """Runs of pretrained models, compared by how they use their weights."""

    schema = KindSchema(needs_base=True)

    def report(self, records: Any, section: None, out: Path) -> list[tuple[str, str]]:
        from trainlab.report import standard_sections
        from trainlab.studies.transfer.report import findings, table

        return standard_sections(
            records, out, lead=findings(records), after_results=[("Pretrained models", table(records).html())]
        )


KINDS.register("transfer", TransferKind())
