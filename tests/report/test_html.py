"""The HTML report opens offline in headless Chromium: scripts run without errors, the page is not blank."""

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
