"""`trainlab serve`: the dashboard, a FastAPI application over the store opened read-only.

Pages are small HTML shells; the browser draws them from the JSON endpoints with plotly.js, served from
the installed `plotly` package with the page's own script and style (no CDN: it works offline). Live
updates are server-sent events: every second the server compares the study's newest `updated_at` and
its running runs with what it last sent, and the page fetches again when they change.

Safety: the store is opened in SQLite's read-only mode for every request; every name that reaches a
path is a slug or a hexadecimal hash (study, run, landscape) or is resolved and kept inside the reports
folder; uploads are parsed as numbers and never stored; with a token, every request without it gets 401.

The routes live in `routes/` (pages, studies, landscapes) and share one `state.Dashboard`.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from trainlab.errors import TrainlabError
from trainlab.serve.routes import landscapes, pages, studies
from trainlab.serve.state import Dashboard
from trainlab.store.connection import StoreDamaged

COOKIE = "trainlab_token"


def create_app(store_root: Path, reports: Path | None = None, token: str | None = None) -> FastAPI:
    board = Dashboard(store_root, reports)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        board.uploads.close()

    app = FastAPI(title="trainlab", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.dashboard = board
    for routes in (pages, studies, landscapes):
        app.include_router(routes.router)

    @app.middleware("http")
    async def require_token(request: Request, call_next: Any) -> Response:
        if token:
            header = request.headers.get("authorization", "")
            given = request.query_params.get("token") or request.cookies.get(COOKIE) or header.removeprefix("Bearer ")
            if not hmac.compare_digest(given.encode(), token.encode()):
                return PlainTextResponse(
                    "401: this dashboard needs its token (open the URL `trainlab serve` printed)", 401
                )
        response = await call_next(request)
        if token and request.query_params.get("token"):  # the page's own requests then carry it as a cookie
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    @app.exception_handler(TrainlabError)
    async def not_found(request: Request, err: TrainlabError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=404)

    @app.exception_handler(StoreDamaged)
    async def damaged(request: Request, err: StoreDamaged) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=503)

    return app
