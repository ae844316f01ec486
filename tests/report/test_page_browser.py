"""The report page as a reader sees it, in a real headless Chromium (Playwright): every section that holds a
figure shows it decoded (an image of real size, a plotly chart with its axes drawn), and a screenshot of the
first figure of each section is left in the session's temporary folder (printed with -s)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.trained import Trained

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright not installed (pip install -e '.[test]')")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        CHROMIUM is None, reason="Chromium not installed (Debian package `chromium`; .ci/run installs it)"
    ),
]

# For each h2: its first figure (a static image or a plotly chart) before the next h2, marked for a locator.
MARK_FIRST_FIGURES = """() => {
  const found = [];
  document.querySelectorAll('h2').forEach((h, i) => {
    for (let el = h.nextElementSibling; el && el.tagName !== 'H2'; el = el.nextElementSibling) {
      const pick = 'figure, img, .plotly-graph-div';
      const figure = el.matches(pick) ? el : el.querySelector(pick);
      if (figure) {
        figure.dataset.first = String(i);
        const img = figure.tagName === 'IMG' ? figure : figure.querySelector('img');
        found.push({section: h.textContent, index: i, image: img ? img.naturalWidth : null,
                    axes: figure.querySelectorAll('.xtick, g.xaxislayer-above, canvas').length});
        break;
      }
    }
  });
  return found;
}"""


def first_figures(page_path: Path, shots: Path) -> list[dict]:
    """Open the report page; each section's first figure (decoded size, plotly axes), screenshotted into `shots`."""
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.goto(page_path.resolve().as_uri())
        page.wait_for_load_state("load")
        found = page.evaluate(MARK_FIRST_FIGURES)
        for f in found:
            path = shots / f"{f['index']:02d}_{f['section'].lower().replace(' ', '_')[:40]}.png"
            page.locator(f"[data-first='{f['index']}']").screenshot(path=str(path))
            f["screenshot"] = path
            print(f"screenshot: {path}")
        browser.close()
    assert errors == []
    return found


def test_every_section_shows_its_figures(
    trained: Callable[[str], Trained], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The tiny study's report: the curves, figures and interactive sections each show a figure that the
    browser decoded (images at least 300 pixels wide, plotly charts with axes or a 3D canvas), and each
    screenshot is not blank."""
    from PIL import Image

    found = first_figures(trained("train").page, tmp_path_factory.mktemp("report-shots"))
    sections = {f["section"] for f in found}
    assert len(found) >= 3, sections
    for f in found:
        assert (f["image"] or 0) >= 300 or f["axes"] > 0, f
        pixels = Image.open(f["screenshot"]).convert("L")
        low, high = pixels.getextrema()
        assert high - low > 100, f  # ink on paper, not an empty box
