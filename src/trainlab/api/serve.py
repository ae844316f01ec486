"""`trainlab serve`: the live dashboard over a store (needs the extra `serve`: FastAPI and uvicorn)."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path

from trainlab.api.common import open_existing
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
        import uvicorn  # noqa: F401 - run_server's; missing, it is named here, before anything else

        from trainlab.serve.app import create_app
    except ImportError:
        raise TrainlabError("trainlab serve needs FastAPI and uvicorn: pip install -e '.[serve]'") from None
    if host not in LOOPBACK and not token:
        token = secrets.token_urlsafe(24)
    root = Path(store)
    if not (root / "store.sqlite").exists():
        raise TrainlabError(f"--store {root}: no store.sqlite there; run `trainlab run` first or pass --store DIR")
    sock = listen(host, port)  # before the URL is printed: a port in use is said in one line
    announce(f"trainlab dashboard on {dashboard_url(host, port, token)} (store {root}, read-only); Ctrl-C stops it")
    # then what may take a while; a browser opened meanwhile waits in the socket's backlog
    open_existing(root).close()  # a store of an older format is upgraded here, where it can be written
    reports_dir = Path(reports) if reports and Path(reports).is_dir() else None
    run_server(create_app(root, reports_dir, token), sock)


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, or one line saying why not."""
    if not 0 < port < 65536:
        raise TrainlabError(f"--port {port}: not a port; valid: 1 to 65535")
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a port in TIME_WAIT is free; one in use is not
        sock.bind((host, port))
    except OSError as err:
        raise TrainlabError(f"--port {port}: cannot listen on {host}:{port} ({err.strerror or err})") from None
    return sock


def run_server(app: object, sock: socket.socket) -> None:
    """uvicorn on the bound socket, until Ctrl-C."""
    import uvicorn

    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
