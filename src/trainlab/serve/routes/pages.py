"""The HTML pages (small shells the browser fills from the JSON routes), the page's own script, style and
plotly.js, and the reports folder's files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, HTMLResponse

from trainlab.errors import TrainlabError
from trainlab.serve import pages, views
from trainlab.serve.state import Dashboard, dashboard

router = APIRouter()
STATIC = Path(__file__).parents[1] / "static"


def _plotly_js() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


ASSETS = {
    "app.js": lambda: STATIC / "app.js",
    "style.css": lambda: STATIC / "style.css",
    "favicon.svg": lambda: STATIC / "favicon.svg",
    "plotly.min.js": _plotly_js,
}


@router.get("/", response_class=HTMLResponse)
def home() -> str:
    return pages.page("Studies", "studies", {})


@router.get("/study/{name}", response_class=HTMLResponse)
def study(name: str) -> str:
    return pages.page(f"Study {views.check_study_name(name)}", "study", {"study": name})


@router.get("/study/{name}/landscapes", response_class=HTMLResponse)
def study_landscapes(name: str) -> str:
    return pages.page(f"Landscapes of {views.check_study_name(name)}", "landscapes", {"study": name})


@router.get("/landscapes", response_class=HTMLResponse)
def upload_page() -> str:
    return pages.page("View a landscape CSV", "landscapes", {"study": ""})


@router.get("/run/{run_id}", response_class=HTMLResponse)
def run(run_id: str) -> str:
    return pages.page(f"Run {views.check_run_id(run_id)}", "run", {"run": run_id})


@router.get("/static/{name}")
def static(name: str) -> FileResponse:
    if name not in ASSETS:
        raise TrainlabError(f"{name}: no such file")
    return FileResponse(ASSETS[name]())


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    """For browsers that ask before reading the page's icon link."""
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


@router.get("/reports/{name}/{path:path}")
def report(name: str, path: str, board: Annotated[Dashboard, Depends(dashboard)]) -> FileResponse:
    """A file of a study's report, only ever inside its folder of the reports folder."""
    if board.reports is None:
        raise TrainlabError("no reports folder (trainlab serve --reports DIR)")
    root = (board.reports / views.check_study_name(name)).resolve()
    try:
        target = (root / (path or "index.html")).resolve()
        found = (target == root or root in target.parents) and target.is_file()
    except (ValueError, OSError):  # a NUL byte, a name too long: no such file either
        found = False
    if not found:
        raise TrainlabError(f"{path!r}: no such report file")
    return FileResponse(target)
