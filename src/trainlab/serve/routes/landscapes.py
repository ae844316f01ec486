"""Landscapes: those computed for a study's runs, one in full, and a CSV uploaded to be viewed (parsed as
numbers and never stored)."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from trainlab.errors import TrainlabError
from trainlab.report.landscape import load as load_landscape
from trainlab.report.landscape import read_csv
from trainlab.serve import views
from trainlab.serve.state import Dashboard, dashboard

router = APIRouter()
Board = Annotated[Dashboard, Depends(dashboard)]
MAX_UPLOAD = (
    20 * 2**20
)  # bytes of a landscape CSV (a 401 x 401 grid of three metrics over 10 epochs is ~60 MB: too much)


@router.get("/api/study/{name}/landscapes")
def api_landscapes(name: str, board: Board) -> list[dict[str, Any]]:
    with board.store() as db:
        table = board.tables.get(db, name)
        found = views.landscapes(db, list(table["id"].unique())) if len(table) else []
    labels = dict(zip(table["id"], table["label"])) if len(table) else {}
    return [{**entry, "label": labels.get(entry["run"], "")} for entry in found]


@router.get("/api/landscape/{run_id}/{key}")
def api_landscape(run_id: str, key: str, board: Board) -> dict[str, Any]:
    with board.store() as db:
        folder = views.landscape_folder(db, run_id, key)
    if folder is None:
        raise TrainlabError(f"landscape {key} of run {run_id}: not computed")
    spec, frames, trajectory = load_landscape(folder)
    return {"spec": spec, **_frames_json(frames), "trajectory": trajectory.tolist()}


@router.post("/api/landscape/upload")
async def api_upload(request: Request) -> JSONResponse:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_UPLOAD:
            return JSONResponse({"error": f"file over {MAX_UPLOAD // 2**20} MB"}, status_code=413)
    try:
        frames = read_csv(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        return JSONResponse({"error": f"not a landscape CSV: {err}"}, status_code=400)
    return JSONResponse({"spec": {"dirs": "uploaded"}, **_frames_json(frames), "trajectory": []})


def _frames_json(frames: dict) -> dict[str, Any]:
    """Grids as lists (NaN as null), one entry per epoch (key 'surface' for a single frame)."""

    def grid(a: np.ndarray) -> list:
        return [[None if not np.isfinite(v) else float(v) for v in row] for row in np.atleast_2d(a)]

    first = next(iter(frames.values()))
    metrics = [k for k in first if k not in ("xs", "ys")]
    return {
        "xs": first["xs"].tolist(),
        "ys": first["ys"].tolist(),
        "metrics": metrics,
        "frames": {("surface" if e is None else str(e)): {m: grid(f[m]) for m in metrics} for e, f in frames.items()},
    }
