"""`trainlab serve`: the dashboard, a FastAPI application over the store opened read-only.

Pages are small HTML shells; the browser draws them from the JSON endpoints with plotly.js, served from
the installed `plotly` package with the page's own script and style (no CDN: it works offline). Live
updates are server-sent events: every second the server compares the study's newest `updated_at` and
its running runs with what it last sent, and the page fetches again when they change.

Safety: the store is opened in SQLite's read-only mode for every request; every name that reaches a
path is a slug or a hexadecimal hash (study, run, landscape) or is resolved and kept inside the reports
folder; uploads are parsed as numbers and never stored; with a token, every request without it gets 401.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse

from trainlab.errors import TrainlabError
from trainlab.report.landscape import load as load_landscape
from trainlab.report.landscape import read_csv
from trainlab.serve import pages, views
from trainlab.serve.series import X_COLUMNS, SeriesCache, curves
from trainlab.store import Store

STATIC = Path(__file__).parent / "static"
COOKIE = "trainlab_token"
MAX_UPLOAD = 20 * 2**20  # bytes of a landscape CSV (a 401 x 401 grid of three metrics over 10 epochs is ~60 MB: too much)
MAX_RUNS = 40  # runs drawn one by one; beyond, the page groups them


def _plotly_js() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def create_app(store_root: Path, reports: Path | None = None, token: str | None = None) -> FastAPI:
    app = FastAPI(title="trainlab", docs_url=None, redoc_url=None, openapi_url=None)
    cache, tables = SeriesCache(), views.StudyTables()
    assets = {"app.js": STATIC / "app.js", "style.css": STATIC / "style.css", "plotly.min.js": _plotly_js()}

    @contextmanager
    def store() -> Iterator[Store]:
        db = Store(store_root, read_only=True)
        try:
            yield db
        finally:
            db.close()

    @app.middleware("http")
    async def require_token(request: Request, call_next: Any) -> Response:
        if token:
            header = request.headers.get("authorization", "")
            given = request.query_params.get("token") or request.cookies.get(COOKIE) or header.removeprefix("Bearer ")
            if not hmac.compare_digest(given.encode(), token.encode()):
                return PlainTextResponse("401: this dashboard needs its token (open the URL `trainlab serve` printed)", 401)
        response = await call_next(request)
        if token and request.query_params.get("token"):  # the page's own requests then carry it as a cookie
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    @app.exception_handler(TrainlabError)
    async def not_found(request: Request, err: TrainlabError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=404)

    @app.get("/", response_class=HTMLResponse)
    def home() -> str:
        return pages.page("Studies", "studies", {})

    @app.get("/study/{name}", response_class=HTMLResponse)
    def study(name: str) -> str:
        return pages.page(f"Study {views.check_study_name(name)}", "study", {"study": name})

    @app.get("/study/{name}/landscapes", response_class=HTMLResponse)
    def study_landscapes(name: str) -> str:
        return pages.page(f"Landscapes of {views.check_study_name(name)}", "landscapes", {"study": name})

    @app.get("/landscapes", response_class=HTMLResponse)
    def upload_page() -> str:
        return pages.page("View a landscape CSV", "landscapes", {"study": ""})

    @app.get("/run/{run_id}", response_class=HTMLResponse)
    def run(run_id: str) -> str:
        return pages.page(f"Run {views.check_run_id(run_id)}", "run", {"run": run_id})

    @app.get("/static/{name}")
    def static(name: str) -> FileResponse:
        if name not in assets:
            raise TrainlabError(f"{name}: no such file")
        return FileResponse(assets[name])

    @app.get("/reports/{name}/{path:path}")
    def report(name: str, path: str) -> FileResponse:
        if reports is None:
            raise TrainlabError("no reports folder (trainlab serve --reports DIR)")
        root = (reports / views.check_study_name(name)).resolve()
        target = (root / (path or "index.html")).resolve()
        inside = target == root or root in target.parents
        if not inside or not target.is_file():
            raise TrainlabError(f"{path}: no such report file")
        return FileResponse(target)

    @app.get("/api/studies")
    def api_studies() -> list[dict[str, Any]]:
        with store() as db:
            out = views.studies(db)
        for s in out:
            s["report"] = bool(reports and (reports / s["name"] / "index.html").is_file())
        return out

    @app.get("/api/study/{name}")
    def api_study(name: str) -> JSONResponse:
        with store() as db:
            page = views.study_page(db, name, tables.get(db, name))
        page["report"] = bool(reports and (reports / name / "index.html").is_file())
        return JSONResponse(page)  # plain json.dumps: FastAPI's encoder walks every value, ten times slower

    @app.get("/api/study/{name}/curves")
    def api_curves(name: str, metric: str = "valid/loss", x: str = "epoch", group: str = "",
                   runs: str = "", points: int = Query(500, ge=10, le=5000)) -> JSONResponse:
        split, _, metric_name = metric.partition("/")
        if x not in X_COLUMNS:
            raise TrainlabError(f"x: {x!r} is not an axis; choose one of {', '.join(X_COLUMNS)}")
        with store() as db:
            table = tables.get(db, name)
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

    @app.get("/api/study/{name}/events")
    async def api_events(name: str, request: Request) -> StreamingResponse:
        views.check_study_name(name)

        def stamp() -> list[Any]:
            with store() as db:
                table = tables.get(db, name)
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

    @app.get("/api/run/{run_id}")
    def api_run(run_id: str) -> dict[str, Any]:
        with store() as db:
            return views.run_page(db, run_id)

    @app.get("/api/study/{name}/landscapes")
    def api_landscapes(name: str) -> list[dict[str, Any]]:
        with store() as db:
            table = tables.get(db, name)
            found = views.landscapes(db, list(table["id"].unique())) if len(table) else []
        labels = dict(zip(table["id"], table["label"])) if len(table) else {}
        return [{**entry, "label": labels.get(entry["run"], "")} for entry in found]

    @app.get("/api/landscape/{run_id}/{key}")
    def api_landscape(run_id: str, key: str) -> dict[str, Any]:
        with store() as db:
            folder = views.landscape_folder(db, run_id, key)
        if folder is None:
            raise TrainlabError(f"landscape {key} of run {run_id}: not computed")
        spec, frames, trajectory = load_landscape(folder)
        return {"spec": spec, **_frames_json(frames), "trajectory": trajectory.tolist()}

    @app.post("/api/landscape/upload")
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

    return app


def _frames_json(frames: dict) -> dict[str, Any]:
    """Grids as lists (NaN as null), one entry per epoch (key 'surface' for a single frame)."""
    def grid(a: np.ndarray) -> list:
        return [[None if not np.isfinite(v) else float(v) for v in row] for row in np.atleast_2d(a)]

    first = next(iter(frames.values()))
    metrics = [k for k in first if k not in ("xs", "ys")]
    return {"xs": first["xs"].tolist(), "ys": first["ys"].tolist(), "metrics": metrics,
            "frames": {("surface" if e is None else str(e)): {m: grid(f[m]) for m in metrics} for e, f in frames.items()}}
