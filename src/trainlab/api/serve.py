"""`trainlab serve`: the live dashboard over a store (needs the extra `serve`: FastAPI and uvicorn)."""

from __future__ import annotations

import secrets
from pathlib import Path

from trainlab.errors import TrainlabError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def dashboard_url(host: str, port: int, token: str | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def serve(
    store: str | Path = "trainlab-store",
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = None,
    reports: str | Path | None = "trainlab-report",
    announce: object = print,
) -> None:
    """Serve the dashboard until interrupted. Bound to this machine by default; any other address needs a
    token (one is made and printed in the URL when none is given): every request without it gets 401."""
    try:
        import uvicorn

        from trainlab.serve.app import create_app
    except ImportError:
        raise TrainlabError("trainlab serve needs FastAPI and uvicorn: pip install -e '.[serve]'") from None
    if host not in LOOPBACK and not token:
        token = secrets.token_urlsafe(24)
    root = Path(store)
    if not (root / "store.sqlite").exists():
        raise TrainlabError(f"--store {root}: no store.sqlite there; run `trainlab run` first or pass --store DIR")
    reports_dir = Path(reports) if reports and Path(reports).is_dir() else None
    app = create_app(root, reports_dir, token)
    announce(f"trainlab dashboard on {dashboard_url(host, port, token)} (store {root}, read-only); Ctrl-C stops it")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    except OSError as err:
        raise TrainlabError(f"--port {port}: cannot listen on {host}:{port} ({err.strerror or err})") from None
