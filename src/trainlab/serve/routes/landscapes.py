"""Landscapes: those computed for a study's runs, one in full, and a CSV uploaded to be viewed (parsed as
numbers and never stored)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from trainlab.errors import TrainlabError
from trainlab.report.landscape import load as load_landscape
from trainlab.serve import views
from trainlab.serve.state import Dashboard, dashboard
from trainlab.serve.upload import frames_json

router = APIRouter()
Board = Annotated[Dashboard, Depends(dashboard)]
# bytes of a landscape CSV (a 401 x 401 grid of three metrics over 10 epochs is ~60 MB: too much)
MAX_UPLOAD = 20 * 2**20


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
    return {"spec": spec, **frames_json(frames), "trajectory": trajectory.tolist()}


@router.post("/api/landscape/upload")
async def api_upload(request: Request, board: Board) -> Response:
    """The surfaces of an uploaded landscape CSV, parsed in the dashboard's upload worker (never on the
    event loop, never kept)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_UPLOAD:
            return JSONResponse({"error": f"file over {MAX_UPLOAD // 2**20} MB"}, status_code=413)
    try:
        text = await board.uploads.parse(bytes(body))
    except (UnicodeDecodeError, ValueError, MemoryError) as err:
        return JSONResponse({"error": f"not a landscape CSV: {err}"}, status_code=400)
    return Response(text, media_type="application/json")
