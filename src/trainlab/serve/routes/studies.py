"""The JSON the pages draw: studies with their progress, a study's runs, its curves (one line per run, or
grouped with a band), one run in full, and the event stream a live page follows."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from trainlab.errors import TrainlabError
from trainlab.serve import views
from trainlab.serve.series import X_COLUMNS, curves
from trainlab.serve.state import Dashboard, dashboard

router = APIRouter()
Board = Annotated[Dashboard, Depends(dashboard)]
MAX_RUNS = 40  # runs drawn one by one; beyond, the page groups them


@router.get("/api/studies")
def api_studies(board: Board) -> list[dict[str, Any]]:
    with board.store() as db:
        out = views.studies(db)
    for s in out:
        s["report"] = board.has_report(s["name"])
    return out


@router.get("/api/study/{name}")
def api_study(name: str, board: Board) -> JSONResponse:
    with board.store() as db:
        page = views.study_page(db, name, board.tables.get(db, name))
    page["report"] = board.has_report(name)
    return JSONResponse(page)  # plain json.dumps: FastAPI's encoder walks every value, ten times slower


@router.get("/api/study/{name}/curves")
def api_curves(
    name: str,
    board: Board,
    metric: str = "valid/loss",
    x: str = "epoch",
    group: str = "",
    runs: str = "",
    points: int = Query(500, ge=10, le=5000),
) -> JSONResponse:
    split, _, metric_name = metric.partition("/")
    if x not in X_COLUMNS:
        raise TrainlabError(f"x: {x!r} is not an axis; choose one of {', '.join(X_COLUMNS)}")
    cache = board.series
    with board.store() as db:
        table = board.tables.get(db, name)
        if table.empty:
            return JSONResponse({"traces": [], "grouped": False})
        chosen = table[table["id"].isin(runs.split(","))] if runs else table
        if group and group not in table:
            raise TrainlabError(f"group: {group!r} is not a config key of study {name!r}")
        if not group and len(chosen) > MAX_RUNS:  # too many lines to read: draw the best ones
            chosen = views.best_first(chosen).head(MAX_RUNS)
        series = cache.get(db, name, split, metric_name, chosen)
        train = {k: cache.get(db, name, "train", k, chosen) for k in ("seen", "flops") if x == k}
        lr = cache.get(db, name, "train", "lr", chosen) if group or len(chosen) <= MAX_RUNS else {}
        traces = curves(chosen, series, x, group or None, points, train, lr)
    return JSONResponse({"traces": traces, "grouped": bool(group), "shown": len(chosen), "runs": len(table)})


@router.get("/api/study/{name}/events")
async def api_events(name: str, request: Request, board: Board) -> StreamingResponse:
    """A server-sent event whenever the study's newest update, its running runs or its size change; a
    comment every 15 quiet seconds keeps proxies from closing the stream."""
    with board.store() as db:
        board.tables.get(db, name)  # a study not in the store is 404 here, not an error inside the stream

    def stamp() -> list[Any]:
        try:
            with board.store() as db:
                table = board.tables.get(db, name)
        except TrainlabError:  # the study left the store (replaced by another): say so, as an empty study
            return [None, 0]
        if table.empty:
            return [None, 0]
        return [float(table["updated_at"].max()), int((table["status"] == "running").sum()), len(table)]

    async def stream() -> Any:
        last, quiet = None, 0
        while not await request.is_disconnected():
            now = await run_in_threadpool(stamp)
            if now != last:
                yield f"event: change\ndata: {json.dumps(now)}\n\n"
                last, quiet = now, 0
            elif (quiet := quiet + 1) % 15 == 0:
                yield ": still here\n\n"
            await asyncio.sleep(1.0)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


@router.get("/api/run/{run_id}")
def api_run(run_id: str, board: Board) -> dict[str, Any]:
    with board.store() as db:
        return views.run_page(db, run_id)
