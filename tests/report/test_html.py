"""The HTML report opens offline in headless Chromium: scripts run without errors, the page is not blank; and
its files are written atomically."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.trained import Trained

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def report(trained: Callable[[str], Trained]) -> Path:
    """The session's train report: two optimizers, two seeds each, a landscape."""
    return trained("train").page


def test_report_is_self_contained(report: Path) -> None:
    """Every figure is embedded and no resource is fetched from elsewhere."""
    text = report.read_text()
    assert text.count("data:image/png;base64,") >= 5 and "Plotly" in text
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=\"https?:", text)  # nothing fetched
    assert "Findings" in text and "± " in text  # two seeds: intervals in tables and findings


@pytest.mark.e2e
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (Debian package `chromium`; .ci/run installs it)")
def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    """Plotly draws its charts (the DOM gains plot containers), no uncaught errors, a non-blank screenshot."""
    base = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run([*base, "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=120)
    assert "plot-container" in dom.stdout, dom.stderr[-2000:]
    assert "Uncaught" not in dom.stderr, dom.stderr[-2000:]
    shot = tmp_path / "page.png"
    subprocess.run(
        [*base, f"--screenshot={shot}", "--window-size=1280,2000", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 10  # text, tables and plots, not a blank page


def test_every_report_file_is_written_atomically(
    trained: Callable[[str], Trained], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No file of a report (page, tables, findings, figures, landscape figures) is written in place: each goes
    to a temporary file renamed over it, so a killed `report` never leaves half a page. Writing in place is
    made to fail here, and the train study's page is written anyway (the kinds' own tables and figures go
    through the same Table.save, save_figure and figure_html)."""
    from matplotlib.figure import Figure

    from trainlab.api import report_study

    out = tmp_path / "report"
    write_text, write_bytes, savefig = Path.write_text, Path.write_bytes, Figure.savefig

    def refused_in_report(path: Path) -> None:
        if out in path.parents and ".tmp" not in path.name:
            raise AssertionError(f"{path.name}: a report file written in place")

    def text(path: Path, *args: object, **kwargs: object) -> int:
        refused_in_report(path)
        return write_text(path, *args, **kwargs)

    def data(path: Path, *args: object, **kwargs: object) -> int:
        refused_in_report(path)
        return write_bytes(path, *args, **kwargs)

    def figure(fig: Figure, target: object, *args: object, **kwargs: object) -> None:
        if isinstance(target, (str, Path)):
            refused_in_report(Path(target))
        savefig(fig, target, *args, **kwargs)

    study = trained("train").copy(tmp_path / "copy")
    monkeypatch.setattr(Path, "write_text", text)
    monkeypatch.setattr(Path, "write_bytes", data)
    monkeypatch.setattr(Figure, "savefig", figure)
    page = report_study(study, out=out)
    assert page.exists() and not list(out.glob("*.tmp*"))
