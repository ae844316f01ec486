"""The dashboard in a real headless Chromium (Playwright driving Debian's chromium): pick runs, group them,
smooth, open a run, move a landscape's epoch slider, and watch a study that trains while the page is open.
Each test leaves a screenshot of its page in the session's temporary folder (printed with -s)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from tests.conftest import trainlab_command, write_study
from trainlab.api import landscape, run_study
from trainlab.studies.landscape.section import LandscapeSpec

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytest.importorskip("fastapi", reason="the dashboard needs FastAPI (pip install -e '.[serve]')")
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright not installed (pip install -e '.[test]')")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        CHROMIUM is None, reason="Chromium not installed (Debian package `chromium`; .ci/run installs it)"
    ),
]


@contextmanager
def served(store: Path) -> Iterator[str]:
    """The dashboard over `store` on a free port of this machine, in a thread; yields its URL."""
    import uvicorn

    from trainlab.serve.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(store), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    """A store with a trained two-optimizer, two-seed study and an epoch-wise landscape of one run, served
    on a free port of this machine."""
    folder = tmp_path_factory.mktemp("site")
    study = write_study(folder, runs=[{"optim.name": "sgd"}, {"optim.name": "adam", "optim.lr": 0.01}], seeds=[0, 1])
    outcomes = run_study(study, {"train.keep_epoch_checkpoints": True})
    landscape(folder / "store", outcomes[0].id, LandscapeSpec(epochs="all", grid=5, max_batches=1))
    with served(folder / "store") as url:
        yield {"url": url, "folder": folder, "shots": tmp_path_factory.mktemp("screenshots")}


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _open(browser, url: str):  # noqa: ANN001, ANN202
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(url)
    page.wait_for_selector("body[data-ready=yes]", timeout=60_000)
    return page, errors


def _shot(page, site: dict, name: str) -> None:  # noqa: ANN001
    path = site["shots"] / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def _traces(page) -> list[dict]:  # noqa: ANN001
    return page.evaluate(
        "document.getElementById('curves').data.map(t => ({name: t.name, y: t.y, fill: t.fill || ''}))"
    )


def test_compare_two_runs_group_by_optimizer_and_smooth(site: dict, browser) -> None:  # noqa: ANN001
    """From the studies page to the study: by default a line per configuration with its seeds' band; two ticked
    runs give two curves, and ticking redraws no row of the table; grouped by optimizer, each group is its best
    setting with a band; moving the smoothing slider changes the drawn values."""
    page, errors = _open(browser, site["url"] + "/")
    _shot(page, site, "studies")
    page.click("text=tiny")
    page.wait_for_selector("body[data-ready=yes]")
    assert page.locator("#runs tbody tr").count() == 4
    page.wait_for_function("document.getElementById('curves').data.filter(t => t.fill === 'tonexty').length === 2")
    lines = [t["name"] for t in _traces(page) if "(n=" in t["name"]]
    assert len(lines) == 2 and all(n.endswith("(n=2 seeds)") for n in lines)  # one per configuration
    assert "2 configurations" in page.inner_text("#curves-note")
    page.evaluate("document.querySelectorAll('#runs tbody tr').forEach(tr => { tr.dataset.kept = 'yes'; })")
    picks = page.locator("#runs tbody input.pick")
    picks.nth(0).check()
    picks.nth(2).check()
    page.wait_for_function("document.getElementById('curves').data.length === 2")
    assert page.locator("#runs tbody tr[data-kept=yes]").count() == 4  # the same rows: nothing redrawn
    assert page.locator("#runs tbody tr.selected").count() == 2
    page.select_option("#group", "optim.name")
    page.wait_for_function(
        "document.getElementById('curves').data.filter(t => t.name.endsWith('(n=1 seed)')).length === 2"
    )
    means = sorted(t["name"] for t in _traces(page) if "(n=" in t["name"])
    assert [m.split(":")[0] for m in means] == ["adam", "sgd"]  # one ticked run per optimizer
    assert all("(best of 1)" in m and m.endswith("(n=1 seed)") for m in means)
    assert not any(t["fill"] for t in _traces(page))  # one seed each: no band to draw
    picks.nth(0).uncheck()
    picks.nth(2).uncheck()
    page.wait_for_function(
        "document.getElementById('curves').data.filter(t => t.name.endsWith('(n=2 seeds)')).length === 2"
    )
    before = [t["y"] for t in _traces(page) if "(n=2" in t["name"]]
    page.fill("#smoothing", "0.9")
    page.dispatch_event("#smoothing", "input")
    after = [t["y"] for t in _traces(page) if "(n=2" in t["name"]]
    assert after != before and after[0][0] == pytest.approx(before[0][0])  # debiased: the first point stays
    _shot(page, site, "study")
    assert errors == []


def test_a_run_page_shows_its_config_and_metrics(site: dict, browser) -> None:  # noqa: ANN001
    """A run's page lists its config, manifest and a row per epoch."""
    page, errors = _open(browser, site["url"] + "/study/tiny")
    page.locator("#runs tbody a").first.click()
    page.wait_for_selector("body[data-ready=yes]")
    assert '"optim"' in page.inner_text("#config") and page.locator("#metrics tbody tr").count() == 3
    _shot(page, site, "run")
    assert errors == []


def test_the_landscape_epoch_slider_moves_through_epochs(site: dict, browser) -> None:  # noqa: ANN001
    """An epoch-wise landscape: the slider picks an epoch; the surface drawn is that epoch's."""
    page, errors = _open(browser, site["url"] + "/study/tiny/landscapes")
    page.wait_for_function("document.getElementById('surface').data !== undefined")
    assert page.inner_text("#epoch-value") == "3"
    last = page.evaluate("document.getElementById('surface').data[0].z")
    page.fill("#epoch", "0")
    page.dispatch_event("#epoch", "input")
    assert page.inner_text("#epoch-value") == "1"
    assert page.evaluate("document.getElementById('surface').data[0].z") != last
    page.select_option("#surface-metric", "accuracy")
    assert page.evaluate("document.getElementById('surface')._fullLayout.scene.zaxis.title.text") == "accuracy"
    _shot(page, site, "landscape")
    assert errors == []


def test_a_training_study_updates_live(site: dict, browser) -> None:  # noqa: ANN001
    """While `trainlab run` trains a study into the store, its page gains points without a reload, and the
    run's status turns from running to done."""
    (site["folder"] / "live").mkdir()
    study = write_study(site["folder"] / "live", runs=[{}])
    spec = {**yaml.safe_load(study.read_text()), "name": "live", "store": str(site["folder"] / "store")}
    study.write_text(yaml.safe_dump(spec))
    args = trainlab_command("run", str(study), "--quiet", "--set", "train.epochs=25", "--set", "data.n=3000")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        page = None
        while page is None and time.time() < deadline:
            try:
                page, errors = _open(browser, site["url"] + "/study/live")
                page.wait_for_function(
                    "document.getElementById('curves').data.length === 1 && "
                    "document.getElementById('curves').data[0].x.length >= 1",
                    timeout=60_000,
                )
            except sync_api.Error:
                page = None  # the study is not in the store yet
                time.sleep(0.5)
        first = page.evaluate("document.getElementById('curves').data[0].x.length")
        page.wait_for_function(f"document.getElementById('curves').data[0].x.length > {first}", timeout=120_000)
        assert page.locator("#runs tbody td.status-running").count() == 1 or proc.poll() is not None
        page.wait_for_selector("#runs tbody td.status-done", timeout=180_000)
        _shot(page, site, "live")
        assert errors == []
    finally:
        proc.wait(timeout=300)


@pytest.fixture(scope="module")
def sweep_site(tmp_path_factory: pytest.TempPathFactory):
    """A made-up sweep of 1,000 runs (10 optimizers × 25 learning rates × 4 seeds, 20 rounds), served."""
    from trainlab.store import Store
    from trainlab.store.synthetic import sweep, write_study

    folder = tmp_path_factory.mktemp("sweep")
    lrs = [10 ** (-5 + 5 * i / 24) for i in range(25)]  # 1e-5 to 1, log-spaced
    runs = sweep([f"opt{i}" for i in range(10)], lrs, 4, 20)
    write_study(Store(folder / "store"), "big", runs)
    with served(folder / "store") as url:
        yield {"url": url, "runs": len(runs)}


def test_a_sweep_of_1000_runs_opens_on_configurations_and_groups_to_best_settings(sweep_site: dict, browser):  # noqa: ANN001
    """On 1,000 runs: the default view is the best 40 configurations, each a line with its 4 seeds' band;
    grouped by optimizer, one line per optimizer, its best learning rate; ticking a run redraws no row."""
    page, errors = _open(browser, sweep_site["url"] + "/study/big")
    assert sweep_site["runs"] == 1000 and page.locator("#runs tbody tr").count() == 1000
    page.wait_for_function("document.getElementById('curves').data.filter(t => t.fill === 'tonexty').length === 40")
    lines = [t["name"] for t in _traces(page) if "(n=" in t["name"]]
    assert len(lines) == 40 and all(n.endswith("(n=4 seeds)") for n in lines)
    assert "the best 40 of 250 configurations" in page.inner_text("#curves-note")
    page.select_option("#group", "optim.name")
    page.wait_for_function(
        "document.getElementById('curves').data.filter(t => t.name.endsWith('(best of 25) (n=4 seeds)')).length === 10"
    )
    best = [t["name"] for t in _traces(page) if t["name"].endswith("(best of 25) (n=4 seeds)")]
    assert sorted(n.split(":")[0] for n in best) == sorted(f"opt{i}" for i in range(10))
    page.evaluate("document.querySelectorAll('#runs tbody tr').forEach(tr => { tr.dataset.kept = 'yes'; })")
    page.locator("#runs tbody input.pick").nth(5).check()
    page.wait_for_function("document.querySelectorAll('#runs tbody tr.selected').length === 1")
    assert page.locator("#runs tbody tr[data-kept=yes]").count() == 1000
    assert errors == []
