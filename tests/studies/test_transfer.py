"""The report of a pretrained-model study: on a made-up store, regimes named and the findings' numbers
(accuracy gap, time ratio, trainable parameters) against a hand computation; the transfer kind's page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from scipy import stats

from tests.trained import Trained
from trainlab.report.records import load_records
from trainlab.store import Store
from trainlab.store.synthetic import MadeUpRun, write_study
from trainlab.studies.transfer.report import findings, table


def test_fine_tuning_pays_and_pretraining_buys(tmp_path: Path) -> None:
    """Frozen: test 0.71 at 2 s/epoch with 1,155 trainable parameters; full: 0.91 at 6 s with 22.6 M; random
    init: 0.61. Three seeds at v - 0.01, v, v + 0.01 give intervals of ±t(0.975, 2)·0.01/√3."""
    runs = []
    for number, (changes, best, seconds, trainable) in enumerate(
        [
            ({"model.freeze": "encoder"}, 0.72, 2.0, 1155),
            ({"model.freeze": "none"}, 0.92, 6.0, 22_566_531),
            ({"model.freeze": "none", "model.random_init": True}, 0.62, 6.0, 22_566_531),
        ],
        1,
    ):
        for seed, offset in enumerate((-0.01, 0.0, 0.01)):
            runs.append(
                MadeUpRun(
                    number,
                    seed,
                    {"model.name": "hf_encoder", **changes},
                    f"exp {number}",
                    [best - 0.2, best + offset],
                    params=(22_566_531, trainable),
                    seconds_per_round=seconds,
                )
            )
    write_study(Store(tmp_path / "store"), "bert", runs)
    records = load_records(Store(tmp_path / "store"), "bert")
    half = stats.t.ppf(0.975, 2) * 0.01 / 3**0.5
    full, scratch = findings(records)
    assert full == (
        f"Full fine-tuning pays here: test accuracy 0.9100 ± {half:.4f} (n=3) (experiment 2) against "
        f"0.7100 ± {half:.4f} (n=3) with a frozen encoder (experiment 1), +20.0 points (the intervals are "
        "separated), at 3.0× the training time per epoch (6.00 s vs 2.00 s) and 22.6 M vs 1.2 k trainable "
        "parameters."
    )
    assert scratch.startswith("What pretraining buys: ") and "+30.0 points (the intervals are separated)" in scratch
    assert [r[2] for r in table(records).rows] == [
        "frozen encoder",
        "fully fine-tuned",
        "fully fine-tuned, random init",
    ]


def test_the_transfer_kind_leads_its_report_with_the_pretrained_models(trained: Callable[[str], Trained]) -> None:
    """A `kind: transfer` study's page: the regime table after the results, its findings first."""
    page = trained("transfer").page.read_text()
    assert page.index("<h2>Results</h2>") < page.index("<h2>Pretrained models</h2>")
    assert "frozen encoder" in page and "fully fine-tuned" in page
    findings = (trained("transfer").page.parent / "findings.md").read_text().splitlines()
    assert findings[0].startswith("- Full fine-tuning ")
