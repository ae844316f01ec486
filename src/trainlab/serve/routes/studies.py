"""The JSON the pages draw: studies with their progress, a study's runs, its curves (a line per configuration
with its seeds' band, per group of config keys, or per ticked run), one run in full, and the event stream a live
page follows."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from trainlab.errors import TrainlabError
from trainlab.serve import views
from trainlab.serve.series import (
    AGGREGATES,
    X_COLUMNS,
    CurveRequest,
    best_configurations,
    curves,
    run_curves,
)
from trainlab.serve.state import Dashboard, dashboard
from trainlab.spec.metrics import metric_mode

router = APIRouter()
Board = Annotated[Dashboard, Depends(dashboard)]
MAX_LINES = 40  # configurations drawn at once; beyond, the best of them


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
    aggregate: str = "best",
    runs: str = "",
    points: int = Query(500, ge=10, le=5000),
    x_min: float | None = None,
    x_max: float | None = None,
) -> JSONResponse:
    """Lines of one metric: one per configuration with its seeds' band; with `group` (config keys, comma
    separated) one per group, its best setting (`aggregate` best) or all its runs (mean); the `runs` ticked
    one by one, or grouped when a group is asked for too. Drawn from the server's display copies (at most
    1,000 rounds a run); with `x_min` and `x_max` (a zoom) from every round in that range, read from the store."""
    split, _, metric_name = metric.partition("/")
    if x not in X_COLUMNS:
        raise TrainlabError(f"x: {x!r} is not an axis; choose one of {', '.join(X_COLUMNS)}")
    if aggregate not in AGGREGATES:
        raise TrainlabError(f"aggregate: {aggregate!r}; choose one of {', '.join(AGGREGATES)}")
    keys = tuple(k for k in group.split(",") if k)
    window = (x_min, x_max) if x_min is not None and x_max is not None else None
    if window is not None and not x_min < x_max:
        raise TrainlabError(f"x_min {x_min} must be below x_max {x_max}")
    cache = board.series
    with board.store() as db:
        table = board.tables.get(db, name)
        if table.empty:
            return JSONResponse({"traces": [], "grouped": False})
        unknown = [k for k in keys if k not in table]
        if unknown:
            raise TrainlabError(f"group: {unknown[0]!r} is not a config key of study {name!r}")
        request = CurveRequest(x, keys, aggregate, _mode(table, metric_name), points, window)
        ticked = table[table["id"].isin(runs.split(","))] if runs else None
        chosen = ticked if ticked is not None else table

        def read(split: str, metric: str, runs: Any) -> dict:  # a zoom reads every round, once
            return db.series(split, metric, list(runs["id"])) if window else cache.get(db, name, split, metric, runs)

        series = read(split, metric_name, chosen)
        train = {k: read("train", k, chosen) for k in ("seen", "flops") if x == k}
        if ticked is None and not keys:
            chosen = best_configurations(chosen, series, request.mode, MAX_LINES)
        lr = read("train", "lr", chosen) if chosen["experiment"].nunique() <= MAX_LINES else {}
        one_by_one = ticked is not None and not keys
        traces = (run_curves if one_by_one else curves)(chosen, series, request, train, lr)
    return JSONResponse(
        {
            "traces": traces,
            "grouped": bool(keys),
            "aggregate": aggregate,
            "configurations": int(table["experiment"].nunique()),
            "shown": len(traces),
            "runs": len(table),
        }
    )


def _mode(table: Any, metric: str) -> str:
    """The metric's direction: the study's own for its main metric."""
    first = table.iloc[0]
    return metric_mode(metric, first["main_metric"], json.loads(first["facts"] or "{}").get("main_mode"))


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
