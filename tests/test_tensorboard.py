"""TensorBoard in and out: runs written by `torch.utils.tensorboard.SummaryWriter` are imported as tracked runs
(config from their hparams, rounds ended by their validation steps, grouped with seed bands in the report),
exported again as event files that TensorBoard's own EventAccumulator reads back with the same scalars at the
same steps, and as CSV / Parquet tables; a folder with no scalars or a damaged event file is one line."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import assert_user_error, run_cli
from trainlab.store import open_store

pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed: pip install -e '.[tensorboard]'")
from tensorboard.backend.event_processing import event_accumulator as ea  # noqa: E402
from torch.utils.tensorboard import SummaryWriter  # noqa: E402

from trainlab.api.tensorboard import split_of  # noqa: E402

LRS, SEEDS = (0.1, 0.03), (1, 2)


def write_logs(logdir: Path) -> None:
    """2 learning rates x 2 seeds, as a user's script writes them: a train loss every step, validation every
    10 steps, the hparams (in the subfolder add_hparams makes)."""
    for lr in LRS:
        for seed in SEEDS:
            writer = SummaryWriter(str(logdir / f"lr{lr}_seed{seed}"))
            for step in range(1, 31):
                writer.add_scalar("loss/train", math.exp(-lr * step) + 0.01 * seed, step)
                if step % 10 == 0:
                    writer.add_scalar("loss/valid", math.exp(-lr * step) + 0.02 * seed, step)
                    writer.add_scalar("val_accuracy", 1 - math.exp(-lr * step), step)
            writer.add_hparams({"lr": lr, "seed": seed}, {"hparam/final_loss": math.exp(-30 * lr)})
            writer.close()


def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of a run folder and its hparams subfolders, as TensorBoard itself reads them."""
    out = {}
    for events in sorted({p.parent for p in folder.rglob("*tfevents*")}):
        acc = ea.EventAccumulator(str(events), size_guidance={ea.SCALARS: 0})
        acc.Reload()
        out.update({tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]})
    return out


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tb")
    write_logs(root / "logs")
    result = run_cli("import", "tensorboard", str(root / "logs"), "--study", "tb", "--store", str(root / "store"))
    assert result.returncode == 0, result.stderr
    return root / "logs", root / "store"


def test_round_trip_through_the_store_keeps_every_scalar_at_its_step(imported: tuple[Path, Path], tmp_path: Path):
    logs, store = imported
    result = run_cli("export", "tb", str(tmp_path / "out"), "--format", "tensorboard", "--store", str(store))
    assert result.returncode == 0, result.stderr
    for lr in LRS:
        for seed in SEEDS:
            name = f"lr{lr}_seed{seed}"
            original = scalars(logs / name)
            assert set(original) == {"loss/train", "loss/valid", "val_accuracy", "hparam/final_loss"}
            assert scalars(tmp_path / "out" / name) == original


def test_imported_runs_are_configs_with_seeds_rounds_and_bests(imported: tuple[Path, Path], tmp_path: Path) -> None:
    _, store = imported
    db = open_store(store)
    runs = db.runs("tb")
    metrics = db.metrics(list(runs["id"]))
    db.close()
    assert len(runs) == 4 and set(runs["status"]) == {"done"}
    assert runs.groupby("experiment")["seed"].apply(sorted).tolist() == [list(SEEDS), list(SEEDS)]
    assert set(runs["epochs_done"]) == {3}  # validation at steps 10, 20, 30 ends three rounds
    for run in runs.itertuples():
        valid = metrics[(metrics.run_id == run.id) & (metrics.split == "valid") & (metrics.name == "loss")]
        assert run.best_value == pytest.approx(valid["value"].min()) and run.best_epoch == 3
    again = run_cli("import", "tensorboard", str(imported[0]), "--study", "tb", "--store", str(store))
    assert again.returncode == 0 and again.stdout.count("already imported") == 4
    out = tmp_path / "report"
    assert run_cli("report", "tb", "--store", str(store), "--out", str(out)).returncode == 0
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 2 and "±" in results.to_string()  # one row per lr, with its seeds' interval


def test_csv_and_parquet_exports_hold_every_stored_value(imported: tuple[Path, Path], tmp_path: Path) -> None:
    _, store = imported
    for fmt in ("csv", "parquet"):
        assert run_cli("export", "tb", str(tmp_path), "--format", fmt, "--store", str(store)).returncode == 0
    table = pd.read_csv(tmp_path / "tb_metrics.csv")
    assert len(table) == 4 * (30 + 3 + 3 + 1)
    assert table.equals(pd.read_parquet(tmp_path / "tb_metrics.parquet"))
    assert set(pd.read_csv(tmp_path / "tb_runs.csv")["lr"]) == set(LRS)


@pytest.mark.parametrize(
    ("tag", "split", "name"),
    [
        ("loss/train", "train", "loss"),
        ("Loss/Validation", "valid", "Loss"),
        ("val_loss", "valid", "loss"),
        ("accuracy-test", "test", "accuracy"),
        ("eval/bleu", "valid", "bleu"),
        ("lr", "train", "lr"),
        ("train", "train", "train"),
        ("charts/episodic_return", "train", "charts/episodic_return"),
    ],
)
def test_a_tag_names_its_split(tag: str, split: str, name: str) -> None:
    assert split_of(tag) == (split, name)


def test_a_folder_without_scalars_is_one_line(tmp_path: Path) -> None:
    writer = SummaryWriter(str(tmp_path / "logs" / "run"))
    writer.add_text("note", "no numbers here", 0)
    writer.close()
    result = run_cli("import", "tensorboard", str(tmp_path / "logs"), "--study", "x", "--store", str(tmp_path / "s"))
    assert_user_error(result, "has no scalar events")
    assert_user_error(run_cli("import", "tensorboard", str(tmp_path / "nowhere"), "--study", "x"), "is not a folder")


def test_a_damaged_event_file_imports_nothing(tmp_path: Path) -> None:
    write_logs(tmp_path / "logs")
    victim = next((tmp_path / "logs" / "lr0.1_seed2").glob("*tfevents*"))
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: TensorBoard's reader would stop there without a word
    victim.write_bytes(bytes(data))
    store = tmp_path / "store"
    result = run_cli("import", "tensorboard", str(tmp_path / "logs"), "--study", "x", "--store", str(store))
    assert_user_error(result, "damaged event file")
    assert not (store / "store.sqlite").exists()  # read and checked before anything is written


def test_exporting_an_unknown_study_is_one_line(imported: tuple[Path, Path], tmp_path: Path) -> None:
    result = run_cli("export", "nope", str(tmp_path), "--format", "csv", "--store", str(imported[1]))
    assert_user_error(result, "not in store")
