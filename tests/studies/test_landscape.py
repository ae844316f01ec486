"""`trainlab landscape` on a stored run: every output, PCA directions, resuming an interrupted grid."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import assert_user_error, run_cli
from tests.trained import Trained
from trainlab.store import open_store
from trainlab.studies.landscape.compute import compute
from trainlab.studies.landscape.section import LandscapeSpec


@pytest.fixture(scope="module")
def stored(trained: Callable[[str], Trained], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A copy of the landscape kind's store: the tiny train study, trained keeping every epoch's weights."""
    folder = tmp_path_factory.mktemp("land")
    trained("landscape").copy(folder)
    return folder / "store", open_store(folder / "store").run_ids()[0]


def test_landscape_command_writes_every_output(stored: tuple[Path, str]) -> None:
    """Per-epoch surfaces on one basis: NPZ per epoch, CSV rows epoch,x,y,metrics, contours, 3D, GIF, HTML."""
    store, run_id = stored
    result = run_cli(
        "landscape", run_id[:6], "--store", str(store), "--grid", "5", "--epochs", "all", "--max-batches", "2"
    )
    assert result.returncode == 0, result.stderr
    folder = next(Path(line.strip()) for line in result.stdout.splitlines() if line.strip().endswith(".csv")).parent
    csv = (folder / "landscape.csv").read_text().splitlines()
    assert csv[0] == "epoch,x,y,loss,accuracy" and len(csv) == 1 + 3 * 25
    assert {
        "epoch_1.npz",
        "epoch_3.npz",
        "contour_loss.png",
        "contour_loss.pdf",
        "surface3d_loss.png",
        "animation_loss.gif",
        "landscape.html",
        "trajectory.npy",
    } <= {p.name for p in folder.iterdir()}
    assert np.load(folder / "trajectory.npy").shape == (3, 3)
    assert "landscape" in {a["kind"] for a in open_store(store).artifacts(run_id)}


def test_a_grid_beyond_a_million_points_is_refused(stored: tuple[Path, str]) -> None:
    """--grid 1000000 (once a 931 GiB allocation error, leaving a folder that broke the dashboard): one line."""
    store, run_id = stored
    result = run_cli("landscape", run_id[:6], "--store", str(store), "--grid", "1000000")
    assert_user_error(result, "grid: Input should be less than or equal to 1001")


def test_pca_directions_record_their_explained_variance(stored: tuple[Path, str]) -> None:
    """PCA of the epoch checkpoints: two directions whose variance fractions are saved with the spec."""
    store, run_id = stored
    spec = LandscapeSpec(dirs="pca", grid=3, max_batches=1)
    out = compute(open_store(store), run_id, spec, torch.device("cpu"))
    explained = json.loads((out / "spec.json").read_text())["explained_variance"]
    assert len(explained) == 2 and 0 < explained[1] <= explained[0] <= 1


def test_an_interrupted_grid_continues_where_it_stopped(stored: tuple[Path, str]) -> None:
    """Stopped at point 7 of 16: the first 4-point row was saved, so the rerun computes points 5 to 16."""
    store, run_id = stored
    spec = LandscapeSpec(grid=4, max_batches=1, seed=7)

    def stop_after_7(done: int, total: int) -> None:
        if done == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compute(open_store(store), run_id, spec, torch.device("cpu"), progress=stop_after_7)
    seen: list[int] = []
    out = compute(open_store(store), run_id, spec, torch.device("cpu"), progress=lambda d, t: seen.append(d))
    assert seen[0] == 5 and seen[-1] == 16
    with np.load(out / "surface.npz") as f:
        assert not np.isnan(f["metric_loss"]).any()


def test_report_gets_a_landscape_section(trained: Callable[[str], Trained]) -> None:
    """After `trainlab landscape`, the study's report embeds the contour and an interactive surface (the
    session's train study computes one before its report)."""
    page = trained("train").page.read_text()
    assert "Loss landscapes" in page and "random directions" in page


def test_a_landscape_study_covers_the_chosen_runs(stored: tuple[Path, str]) -> None:
    """`kind: landscape` runs the surface for each selected run of its source study."""
    import yaml

    from trainlab.api import check_study
    from trainlab.api import run_study as run

    store, run_id = stored
    path = store.parent / "land.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "land",
                "kind": "landscape",
                "store": str(store),
                "landscape": {"study": "tiny", "experiments": [1], "grid": 4, "max_batches": 1},
            }
        )
    )
    assert [line.id for line in check_study(path)] == [run_id]
    (outcome,) = run(path)
    assert outcome.status == "done" and any(f.name == "landscape.csv" for f in outcome.files)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"name": "x", "kind": "landscape"}, "a landscape study needs a landscape section"),
        ({"name": "x"}, "a train study needs a base run config"),
        ({"name": "x", "kind": "landscape", "landscape": {"study": "s", "dirs": "pcaa"}}, "landscape.dirs"),
        ({"name": "x", "kind": "landscape", "landscape": {"study": "s", "range": [1, -1]}}, "LO < HI"),
    ],
)
def test_landscape_study_mistakes_are_named(raw: dict, message: str) -> None:
    """Missing or bad landscape sections fail before any work, naming the field."""
    from trainlab.errors import TrainlabError
    from trainlab.studies.catalog import parse_study

    with pytest.raises(TrainlabError, match=message):
        parse_study(raw)


def test_a_landscape_study_shows_its_surfaces_side_by_side_and_respects_masks(
    trained: Callable[[str], Trained], tmp_path: Path
) -> None:
    """Dense run and its first pruned level: the pruned run's directions move only surviving weights (its
    surface stays a ticket's), and the study's page draws both on one colour scale."""
    import yaml

    from trainlab.api import check_study, report_study
    from trainlab.api import run_study as run

    lottery = trained("lottery")
    lottery.copy(tmp_path)
    path = tmp_path / "land.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "land",
                "kind": "landscape",
                "store": str(tmp_path / "store"),
                "landscape": {
                    "study": "tiny",
                    "experiments": [1, 2],
                    "grid": 3,
                    "max_batches": 1,
                    "range": [-0.2, 0.2],
                },
            }
        )
    )
    assert len(check_study(path)) == 2 and {o.status for o in run(path)} == {"done"}
    store = open_store(tmp_path / "store")
    level = lottery.before[1].id
    (folder,) = [store.root / a["path"] for a in store.artifacts(level) if a["kind"] == "landscape"]
    assert json.loads((folder / "spec.json").read_text())["masked"] is True
    page = report_study(path, out=tmp_path / "land-report").read_text()
    assert "Side by side" in page and "on one colour scale" in page
