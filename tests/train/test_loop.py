"""The training loop through the study runner: determinism, resume, divergence, early stopping, hooks."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tests.conftest import interrupted_after, needs_gpu, write_study
from trainlab.api import run_study
from trainlab.store import open_store

TIMING = {"seconds", "samples_per_s", "peak_rss_mb", "peak_allocated_mb", "peak_reserved_mb"}


def results(store_dir: Path) -> pd.DataFrame:
    """Metric rows without timing/memory (which legitimately vary), in a canonical order."""
    m = open_store(store_dir).metrics()
    m = m[~m["name"].isin(TIMING)].drop(columns=["wall_s"])
    return m.sort_values(["run_id", "epoch", "split", "name", "step"]).reset_index(drop=True)


def test_same_spec_gives_bit_identical_metrics(tmp_path: Path) -> None:
    """Two fresh stores, same study: every loss and accuracy is equal to the last bit."""
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        run_study(write_study(folder), overrides={"model.dropout": 0.2})
    a, b = results(tmp_path / "a" / "store"), results(tmp_path / "b" / "store")
    assert len(a) > 0
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_global_rng_of_the_caller_is_left_alone(tmp_path: Path) -> None:
    """Training seeds its own streams and restores torch's global RNG afterwards."""
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    run_study(write_study(tmp_path))
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("every", [None, 5], ids=["epochs", "rounds-across-data-epochs"])
def test_resume_after_interrupt_equals_an_uninterrupted_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, every: int | None
) -> None:
    """A run stopped after round 2 and resumed gives exactly the metrics of a run never stopped, also when
    rounds of train.eval_every_steps steps end in the middle of a data epoch (7 steps per epoch here)."""
    overrides = {"train.epochs": 4, "model.dropout": 0.1, "train.eval_every_steps": every}
    (tmp_path / "once").mkdir()
    run_study(write_study(tmp_path / "once"), overrides)

    (tmp_path / "twice").mkdir()
    study = write_study(tmp_path / "twice")
    with interrupted_after(2, monkeypatch), pytest.raises(KeyboardInterrupt):
        run_study(study, overrides)
    store = open_store(tmp_path / "twice" / "store")
    assert store.runs()["status"].tolist() == ["partial"] and store.runs()["epochs_done"].tolist() == [2]
    (outcome,) = run_study(study, overrides)
    assert outcome.status == "done"
    pd.testing.assert_frame_equal(results(tmp_path / "once" / "store"), results(tmp_path / "twice" / "store"))


def test_second_run_skips_done_runs(tmp_path: Path) -> None:
    """Rerunning a finished study trains nothing."""
    study = write_study(tmp_path)
    assert [o.status for o in run_study(study)] == ["done"]
    assert [o.status for o in run_study(study)] == ["skipped"]


def test_divergence_is_recorded_and_the_study_goes_on(tmp_path: Path) -> None:
    """A NaN loss marks the run diverged at its epoch; the next run still trains."""
    study = write_study(tmp_path, runs=[{"optim.lr": 1e30, "schedule.name": "none"}, {}])
    outcomes = run_study(study)
    assert [o.status for o in outcomes] == ["diverged", "done"]
    runs = open_store(tmp_path / "store").runs("tiny")
    assert runs["status"].tolist() == ["diverged", "done"]
    assert runs["diverged_epoch"].iloc[0] == 1
    assert [o.status for o in run_study(study)] == ["skipped", "skipped"]


def test_early_stopping_stops_after_patience_epochs_without_improvement(tmp_path: Path) -> None:
    """With a tiny learning rate the best epoch comes early; training stops `patience` epochs later."""
    study = write_study(tmp_path)
    (outcome,) = run_study(study, {"train.epochs": 30, "train.early_stopping_patience": 2, "optim.lr": 1e-6})
    run = open_store(tmp_path / "store").runs().iloc[0]
    assert outcome.epochs == run["best_epoch"] + 2 < 30


def test_metrics_cover_every_epoch_and_split(tmp_path: Path) -> None:
    """Per epoch: train loss/accuracy/lr/seconds/samples_per_s/seen and valid loss/accuracy/seconds/samples_per_s;
    test at the end, with its throughput."""
    run_study(write_study(tmp_path))
    m = open_store(tmp_path / "store").metrics()
    names = m.groupby("split")["name"].apply(set).to_dict()
    assert {"loss", "accuracy", "lr", "seconds", "samples_per_s", "peak_rss_mb", "seen"} <= names["train"]
    assert {"loss", "accuracy", "seconds", "samples_per_s"} <= names["valid"]
    assert names["test"] == names["test_last"] == {"loss", "accuracy", "samples_per_s"}
    eval_rate = m[(m["split"] == "valid") & (m["name"] == "samples_per_s")]["value"]
    assert len(eval_rate) == 3 and (eval_rate > 0).all()
    assert sorted(m[(m["split"] == "valid") & (m["name"] == "loss")]["epoch"]) == [1, 2, 3]
    seen = m[(m["split"] == "train") & (m["name"] == "seen")].sort_values("epoch")["value"]
    assert seen.tolist() == [420, 840, 1260]  # 420 training examples per epoch
    wall = m[(m["split"] == "train") & (m["name"] == "loss")].sort_values("epoch")["wall_s"]
    assert wall.is_monotonic_increasing and wall.iloc[0] > 0


def test_step_rounds_evaluate_once_per_interval_and_never_at_data_epoch_ends(tmp_path: Path) -> None:
    """With train.eval_every_steps the run validates exactly at steps 5, 10, ... and at its last step, once
    each, whatever the data epochs (7 steps each here): every round is one store epoch."""
    run_study(write_study(tmp_path), {"train.eval_every_steps": 5})  # 3 epochs x 7 steps = 21 steps
    m = open_store(tmp_path / "store").metrics()
    valid = m[(m["split"] == "valid") & (m["name"] == "loss")].sort_values("step")
    assert valid["step"].tolist() == [5, 10, 15, 20, 21] and valid["epoch"].tolist() == [1, 2, 3, 4, 5]
    seen = m[(m["split"] == "train") & (m["name"] == "seen")].sort_values("step")["value"]
    sizes = ([64] * 6 + [36]) * 3  # 420 examples per epoch in batches of 64
    assert seen.tolist() == [sum(sizes[:step]) for step in (5, 10, 15, 20, 21)]


def test_eval_batches_validates_on_the_same_seeded_sample_every_time(tmp_path: Path) -> None:
    """train.eval_batches evaluates that many batches of a fixed shuffled order: the sample's loss differs
    from the whole split's, and the untouched model scores the same on it at every evaluation."""
    study = write_study(tmp_path)
    overrides = {"train.eval_batch_size": 20, "train.eval_batches": 2, "optim.lr": 1e-12}
    run_study(study, overrides)
    m = open_store(tmp_path / "store").metrics()
    sample = m[(m["split"] == "valid") & (m["name"] == "loss")]["value"]
    assert sample.nunique() == 1  # lr 1e-12: the weights do not move, and the sample is the same each time
    full = m[(m["split"] == "test_last") & (m["name"] == "loss")]["value"]
    (tmp_path / "full").mkdir()
    run_study(write_study(tmp_path / "full"), {**overrides, "train.eval_batches": None})
    whole = open_store(tmp_path / "full" / "store").metrics()
    assert whole[(whole["split"] == "valid") & (whole["name"] == "loss")]["value"].iloc[0] != sample.iloc[0]
    assert len(full) == 1


def test_plateau_schedule_lowers_lr_and_logs_it(tmp_path: Path) -> None:
    """ReduceLROnPlateau halves lr after valid loss stops improving; the logged lr shows the drop."""
    run_study(write_study(tmp_path), {"train.epochs": 12, "optim.lr": 2.0, "schedule.patience": 0})
    m = open_store(tmp_path / "store").metrics()
    lr = m[(m["split"] == "train") & (m["name"] == "lr")].sort_values("epoch")["value"].tolist()
    assert lr[0] == 2.0 and min(lr) < 2.0
    assert all(b in (a, a * 0.5) for a, b in zip(lr, lr[1:]))


def test_clip_grad_norm_changes_training(tmp_path: Path) -> None:
    """Gradient clipping is applied (a tiny max norm gives different losses than none)."""
    for name, extra in (("free", {}), ("clipped", {"train.clip_grad_norm": 1e-3})):
        (tmp_path / name).mkdir()
        run_study(write_study(tmp_path / name), extra)
    free, clipped = results(tmp_path / "free" / "store"), results(tmp_path / "clipped" / "store")
    loss = lambda d: d[(d["split"] == "train") & (d["name"] == "loss")]["value"].tolist()  # noqa: E731
    assert loss(free) != loss(clipped)


def test_bf16_precision_trains_close_to_float32_and_keeps_float32_weights(tmp_path: Path) -> None:
    """train.precision=bf16 takes effect (losses differ from float32 in the low bits), learns as well
    (final valid accuracy within 5 points), and leaves weights and optimizer state in float32."""
    for name, precision in (("fp32", "fp32"), ("bf16", "bf16")):
        (tmp_path / name).mkdir()
        run_study(
            write_study(tmp_path / name),
            {"train.precision": precision, "train.epochs": 6, "optim.name": "adam", "optim.lr": 0.01},
        )
    fp32, bf16 = results(tmp_path / "fp32" / "store"), results(tmp_path / "bf16" / "store")
    metric = lambda d, split, name: d[(d["split"] == split) & (d["name"] == name)]["value"].tolist()  # noqa: E731
    assert metric(fp32, "train", "loss") != metric(bf16, "train", "loss")
    assert abs(metric(fp32, "valid", "accuracy")[-1] - metric(bf16, "valid", "accuracy")[-1]) < 0.05
    (folder,) = (tmp_path / "bf16" / "store" / "runs").iterdir()
    last = torch.load(folder / "last.pt", weights_only=False)
    assert {t.dtype for t in last["model"].values()} == {torch.float32}
    moments = [v for s in last["optimizer"]["state"].values() for v in s.values() if torch.is_tensor(v) and v.ndim]
    assert moments and all(v.dtype == torch.float32 for v in moments)


@pytest.mark.e2e  # a cold compile takes most of a minute on 2 cores
@pytest.mark.skipif(
    not any(map(shutil.which, ("c++", "g++", "clang++"))), reason="torch.compile on CPU needs a C++ compiler"
)
def test_compiled_training_matches_eager_and_keeps_checkpoint_keys(tmp_path: Path) -> None:
    """train.compile=true trains the same model (losses equal to float32 rounding: fused kernels
    reorder sums) and writes checkpoints with the eager module's keys, so landscapes and resume load them."""
    for name, compiled in (("eager", False), ("compiled", True)):
        (tmp_path / name).mkdir()
        run_study(write_study(tmp_path / name), {"train.compile": compiled, "train.epochs": 2})
    eager, compiled = results(tmp_path / "eager" / "store"), results(tmp_path / "compiled" / "store")
    loss = lambda d: d[(d["split"] == "valid") & (d["name"] == "loss")]["value"].to_numpy()  # noqa: E731
    np.testing.assert_allclose(loss(compiled), loss(eager), rtol=1e-4)
    keys = [
        list(torch.load(next((tmp_path / name / "store" / "runs").iterdir()) / "last.pt", weights_only=False)["model"])
        for name in ("eager", "compiled")
    ]
    assert keys[0] == keys[1]


@needs_gpu
def test_a_study_trains_on_the_gpu_in_bf16_with_allocator_peaks(tmp_path: Path) -> None:
    """On CUDA: bf16 training is close to float32 and each epoch records allocator peaks (reserved ≥ allocated > 0)."""
    for name, precision in (("fp32", "fp32"), ("bf16", "bf16")):
        (tmp_path / name).mkdir()
        run_study(
            write_study(tmp_path / name),
            {"train.precision": precision, "train.epochs": 6, "optim.name": "adam", "optim.lr": 0.01},
            device="cuda",
        )
    m = open_store(tmp_path / "bf16" / "store").metrics()
    peak = lambda name: m[(m["split"] == "train") & (m["name"] == name)].sort_values("epoch")["value"].to_numpy()  # noqa: E731
    assert len(peak("peak_allocated_mb")) == 6 and (peak("peak_allocated_mb") > 0).all()
    assert (peak("peak_reserved_mb") >= peak("peak_allocated_mb")).all()
    accuracy = lambda d: d[(d["split"] == "valid") & (d["name"] == "accuracy")]["value"].tolist()[-1]  # noqa: E731
    assert abs(accuracy(results(tmp_path / "fp32" / "store")) - accuracy(results(tmp_path / "bf16" / "store"))) < 0.05
