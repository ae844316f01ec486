"""The dashboard's server, through its HTTP interface: read-only by construction, no path outside the
store, tokens off this machine, uploads parsed and never kept, and curves grouped the report's way."""

from __future__ import annotations

import hashlib
import importlib
import socket
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from trainlab.errors import TrainlabError
from trainlab.store import Store
from trainlab.store.synthetic import MadeUpRun, write_study

pytest.importorskip("fastapi", reason="the dashboard needs FastAPI (pip install -e '.[serve]')")
from fastapi.testclient import TestClient  # noqa: E402

from trainlab.api.serve import dashboard_url  # noqa: E402
from trainlab.serve.app import create_app  # noqa: E402
from trainlab.serve.routes.landscapes import MAX_UPLOAD  # noqa: E402


@pytest.fixture
def made_up(tmp_path: Path) -> Path:
    """Two optimizers, two seeds each, three rounds of valid accuracy given by hand."""
    runs = [
        MadeUpRun(1, 0, {"optim.name": "sgd"}, "sgd", [0.2, 0.4, 0.6]),
        MadeUpRun(1, 1, {"optim.name": "sgd"}, "sgd", [0.4, 0.6, 0.8]),
        MadeUpRun(2, 0, {"optim.name": "adam"}, "adam", [0.5, 0.7, 0.9]),
        MadeUpRun(2, 1, {"optim.name": "adam"}, "adam", [0.5, 0.8, 0.9]),
    ]
    write_study(Store(tmp_path / "store"), "hand", runs)
    (tmp_path / "reports" / "hand").mkdir(parents=True)
    (tmp_path / "reports" / "hand" / "index.html").write_text("<html>report</html>")
    (tmp_path / "secret.txt").write_text("do not serve me")
    return tmp_path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_line_per_configuration_with_its_seeds_band_and_groups_that_mean_their_runs(made_up: Path) -> None:
    """By default a line per configuration (the experiment: every key but the seed): per round the mean of its
    seeds and mean ± t·s/√n, n = 2; grouped with aggregate=mean, the group's runs together; ticked runs one by
    one."""
    client = TestClient(create_app(made_up / "store"))
    body = client.get("/api/study/hand/curves", params={"metric": "valid/accuracy"}).json()
    assert [t["name"] for t in body["traces"]] == ["1: sgd", "2: adam"] and body["configurations"] == 2
    sgd = body["traces"][0]
    half = stats.t.ppf(0.975, 1) * 0.1  # two runs 0.2 apart: s = 0.1·√2, s/√2 = 0.1
    assert sgd["n"] == 2 and sgd["x"] == [1, 2, 3] and sgd["y"] == pytest.approx([0.3, 0.5, 0.7])
    assert sgd["low"] == pytest.approx([0.3 - half, 0.5 - half, 0.7 - half])
    params = {"metric": "valid/accuracy", "group": "optim.name", "aggregate": "mean"}
    grouped = client.get("/api/study/hand/curves", params=params).json()
    assert next(t for t in grouped["traces"] if t["name"] == "sgd")["y"] == pytest.approx([0.3, 0.5, 0.7])
    ids = ",".join(r["id"] for r in client.get("/api/study/hand").json()["runs"])
    single = client.get("/api/study/hand/curves", params={"metric": "valid/accuracy", "runs": ids}).json()
    assert len(single["traces"]) == 4 and single["traces"][0]["y"] == pytest.approx([0.2, 0.4, 0.6])


def test_grouped_by_keys_each_group_is_its_best_setting_over_its_seeds(tmp_path: Path) -> None:
    """Two optimizers x two learning rates x two seeds, grouped by optimizer: each line is the optimizer's best
    learning rate (by the metric, in its direction: accuracy up, loss down), with that setting's seed band;
    grouped by both keys, a line per setting; an unknown key or aggregate is one line."""
    runs = [
        MadeUpRun(1, 0, {"optim.name": "sgd", "optim.lr": 0.1}, "sgd 0.1", [0.5, 0.6]),
        MadeUpRun(1, 1, {"optim.name": "sgd", "optim.lr": 0.1}, "sgd 0.1", [0.5, 0.7]),
        MadeUpRun(2, 0, {"optim.name": "sgd", "optim.lr": 0.01}, "sgd 0.01", [0.3, 0.4]),
        MadeUpRun(2, 1, {"optim.name": "sgd", "optim.lr": 0.01}, "sgd 0.01", [0.3, 0.5]),
        MadeUpRun(3, 0, {"optim.name": "adam", "optim.lr": 0.1}, "adam 0.1", [0.2, 0.3]),
        MadeUpRun(3, 1, {"optim.name": "adam", "optim.lr": 0.1}, "adam 0.1", [0.2, 0.3]),
        MadeUpRun(4, 0, {"optim.name": "adam", "optim.lr": 0.01}, "adam 0.01", [0.6, 0.8]),
        MadeUpRun(4, 1, {"optim.name": "adam", "optim.lr": 0.01}, "adam 0.01", [0.6, 0.9]),
    ]
    write_study(Store(tmp_path / "store"), "lrs", runs)
    client = TestClient(create_app(tmp_path / "store"))
    best = client.get("/api/study/lrs/curves", params={"metric": "valid/accuracy", "group": "optim.name"}).json()
    names = {t["name"]: t for t in best["traces"]}
    assert set(names) == {"adam: adam 0.01 (best of 2)", "sgd: sgd 0.1 (best of 2)"}
    assert names["sgd: sgd 0.1 (best of 2)"]["y"] == pytest.approx([0.5, 0.65]) and best["aggregate"] == "best"
    by_loss = client.get("/api/study/lrs/curves", params={"metric": "valid/loss", "group": "optim.name"}).json()
    assert {t["name"] for t in by_loss["traces"]} == set(names)  # the lowest loss is the highest accuracy here
    both = client.get("/api/study/lrs/curves", params={"metric": "valid/accuracy", "group": "optim.name,optim.lr"})
    assert len(both.json()["traces"]) == 4 and all(t["n"] == 2 for t in both.json()["traces"])
    for params in ({"group": "optim.nme"}, {"group": "optim.name", "aggregate": "median"}):
        refused = client.get("/api/study/lrs/curves", params={"metric": "valid/accuracy", **params})
        assert refused.status_code == 404 and "\n" not in refused.json()["error"]


def test_pages_have_an_icon(made_up: Path) -> None:
    client = TestClient(create_app(made_up / "store"))
    assert 'rel="icon"' in client.get("/").text
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


def test_the_server_cannot_write_the_store(made_up: Path) -> None:
    """Its connection is SQLite read-only (a write raises), and a tour of every endpoint leaves the
    store's bytes as they were."""
    db = made_up / "store" / "store.sqlite"
    with sqlite3.connect(db) as con:  # fold the WAL in, so the file holds everything
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = _digest(db)
    reader = Store(made_up / "store", read_only=True)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader._db.execute("DELETE FROM runs")
    reader.close()
    client = TestClient(create_app(made_up / "store", made_up / "reports"))
    rid = client.get("/api/study/hand").json()["runs"][0]["id"]
    for url in [
        "/",
        "/study/hand",
        f"/run/{rid}",
        "/study/hand/landscapes",
        "/landscapes",
        "/api/studies",
        "/api/study/hand",
        f"/api/run/{rid}",
        "/api/study/hand/landscapes",
        "/reports/hand/",
        "/api/study/hand/curves?metric=valid/loss&x=seconds",
        "/api/study/hand/curves?x=step&group=optim.name",
    ]:
        assert client.get(url).status_code == 200, url
    assert client.post("/api/landscape/upload", content="x,y,loss\n0,0,1\n").status_code == 200
    assert _digest(db) == before and not (made_up / "store" / "runs").exists()


@pytest.mark.parametrize(
    "url",
    [
        "/api/run/..%2F..%2Fsecret.txt",
        "/api/run/%2Fetc%2Fpasswd",
        "/run/..%2Fsecret.txt",
        "/api/study/..%2Fsecret.txt",
        "/api/study/%2Fetc/curves",
        "/api/landscape/{rid}/..%2F..%2F..%2F..%2Fsecret.txt",
        "/api/landscape/..%2F..%2Fsecret.txt/abcdef",
        "/api/landscape/{rid}/%2Fetc%2Fpasswd",
        "/reports/hand/..%2F..%2Fsecret.txt",
        "/reports/hand/%2Fetc%2Fpasswd",
        "/reports/..%2Fsecret.txt/x",
        "/reports/hand/../../secret.txt",
        "/static/..%2Fapp.py",
        "/static/%2Fetc%2Fpasswd",
        "/static/../../secret.txt",
        "/study/..%2F..%2Fsecret.txt/landscapes",
    ],
)
def test_no_endpoint_reads_a_path_outside_the_store(made_up: Path, url: str) -> None:
    """`../` and absolute paths in every parameter that names a file: never served (404, no content)."""
    client = TestClient(create_app(made_up / "store", made_up / "reports"))
    rid = client.get("/api/study/hand").json()["runs"][0]["id"]
    response = client.get(url.format(rid=rid))
    assert response.status_code == 404 and "do not serve me" not in response.text and "root:" not in response.text


def test_a_token_guards_every_request(made_up: Path) -> None:
    """Without the token: 401 on pages, data and static files; with it in the URL, a cookie carries it after."""
    client = TestClient(create_app(made_up / "store", token="s3cret"))
    for url in ["/", "/api/studies", "/static/app.js", "/api/study/hand/events"]:
        assert client.get(url).status_code == 401, url
    assert client.get("/api/studies", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/?token=s3cret").status_code == 200
    assert client.get("/api/studies").status_code == 200  # the cookie set by the first visit
    fresh = TestClient(create_app(made_up / "store", token="s3cret"))
    assert fresh.get("/api/studies", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert dashboard_url("0.0.0.0", 8765, "s3cret") == "http://0.0.0.0:8765/?token=s3cret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_other_addresses_get_a_token_made_up(made_up: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`trainlab serve --host 0.0.0.0` without --token makes one and prints the URL that carries it."""
    api_serve = importlib.import_module("trainlab.api.serve")  # the module: trainlab.api.serve is also its function

    seen: dict[str, object] = {}

    def run_server(app: object, sock: socket.socket) -> None:
        seen.update(app=app, address=sock.getsockname())
        sock.close()

    monkeypatch.setattr(api_serve, "run_server", run_server)
    lines: list[str] = []
    port = _free_port()
    api_serve.serve(made_up / "store", host="0.0.0.0", port=port, announce=lines.append)
    token = lines[0].split("?token=")[1].split(" ")[0]
    assert len(token) >= 24 and seen["address"] == ("0.0.0.0", port)
    client = TestClient(seen["app"])
    assert client.get("/").status_code == 401 and client.get(f"/?token={token}").status_code == 200
    api_serve.serve(made_up / "store", host="127.0.0.1", port=port, announce=lines.append)
    assert "token" not in lines[1] and TestClient(seen["app"]).get("/").status_code == 200


def test_a_port_in_use_or_out_of_range_is_one_line_before_the_url(made_up: Path) -> None:
    """The port is bound before the URL is printed: one in use, or not a port at all, is a user error
    (once uvicorn's own message after the URL, exit 3; or an OverflowError)."""
    from trainlab.api import serve

    lines: list[str] = []
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(TrainlabError, match=rf"--port {port}: cannot listen on 127.0.0.1:{port} \(Address already"):
            serve(made_up / "store", port=port, announce=lines.append)
    for bad in (0, 99999):
        with pytest.raises(TrainlabError, match=rf"--port {bad}: not a port; valid: 1 to 65535"):
            serve(made_up / "store", port=bad, announce=lines.append)
    assert lines == []


def test_uploads_are_parsed_as_data_limited_and_never_stored(made_up: Path) -> None:
    """A landscape CSV comes back as grids; too large is 413, not a landscape is 400; the store is untouched."""
    client = TestClient(create_app(made_up / "store"))
    csv = "epoch,x,y,loss\n" + "".join(
        f"{e},{x},{y},{e + x * x + y * y}\n" for e in (1, 2) for x in (-1, 0, 1) for y in (-1, 1)
    )
    body = client.post("/api/landscape/upload", content=csv).json()
    assert body["xs"] == [-1, 0, 1] and body["ys"] == [-1, 1] and list(body["frames"]) == ["1", "2"]
    assert body["frames"]["2"]["loss"] == [[4, 3, 4], [4, 3, 4]]
    assert client.post("/api/landscape/upload", content="a,b\n1,2\n").status_code == 400
    assert client.post("/api/landscape/upload", content="x,y,loss\n0,0,__import__('os')\n").status_code == 400
    assert client.post("/api/landscape/upload", content=b"x" * (MAX_UPLOAD + 1)).status_code == 413
    kept = {p.name for p in (made_up / "store").iterdir()} - {"store.sqlite-shm", "store.sqlite-wal"}  # SQLite's own
    assert kept == {"store.sqlite"}


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        ("x,y,loss\n" + "".join(f"{i},{i},1\n" for i in range(4000)), "rows on a 4,000 x 4,000 grid fill 0.03%"),
        ("x,y,loss\ninf,0,1\n", "column x: every value must be a finite number"),
        ("x,y,loss\n0,nan,1\n", "column y: every value must be a finite number"),
        ("x,y,loss\n0,0," + "9" * 400 + "\n", "a field of more than 64 characters"),
        ("epoch,x,y,loss\n1.5,0,0,1\n", "column epoch: 1.5 is not a whole number"),
        ("x,y,loss\n0,0,1,2\n", "more values than the header"),
        ("x,y,loss\n", "no rows under the header"),
        ("", "No columns to parse"),
    ],
)
def test_uploads_that_cannot_be_a_grid_are_refused_with_the_reason(made_up: Path, csv: str, message: str) -> None:
    """Scattered points (a 4,000 x 4,000 grid of which 4,000 rows fill 0.03 %: once an 80 MB answer after
    18 s), coordinates that are not finite numbers, oversize fields, fractional epochs: 400 and why."""
    with TestClient(create_app(made_up / "store")) as client:
        answer = client.post("/api/landscape/upload", content=csv)
    assert answer.status_code == 400 and message in answer.json()["error"], answer.text


def test_diverged_points_of_an_upload_are_gaps(made_up: Path) -> None:
    """Metric values nan, inf or empty (a diverged or missing point) come back as null."""
    with TestClient(create_app(made_up / "store")) as client:
        body = client.post("/api/landscape/upload", content="x,y,loss\n0,0,nan\n1,0,inf\n0,1,\n1,1,2\n").json()
    assert body["frames"]["surface"]["loss"] == [[None, None], [None, 2.0]]


@pytest.mark.e2e  # a worker process, and a latency
def test_the_server_answers_while_an_upload_is_parsed(made_up: Path) -> None:
    """A 600 x 600 grid is parsed in the upload worker while /api/studies keeps answering, each time within
    100 ms (it waited for the whole parse when the parse ran on the event loop)."""
    import asyncio
    import time

    import httpx

    grid = np.linspace(-1, 1, 600)
    csv = "x,y,loss\n" + "".join(f"{x:.6f},{y:.6f},{x * x + y * y:.8f}\n" for x in grid for y in grid)
    app = create_app(made_up / "store")

    async def upload_and_ask() -> tuple[httpx.Response, list[float]]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://dashboard") as client:
            upload = asyncio.create_task(client.post("/api/landscape/upload", content=csv, timeout=120))
            waits = []
            while not upload.done():
                start = time.perf_counter()
                assert (await client.get("/api/studies")).status_code == 200
                waits.append(time.perf_counter() - start)
                await asyncio.sleep(0.02)
            return await upload, waits

    try:
        answer, waits = asyncio.run(upload_and_ask())
    finally:
        app.state.dashboard.uploads.close()
    assert answer.status_code == 200 and len(answer.json()["xs"]) == 600
    print(f"{len(waits)} answers during the upload, the slowest in {max(waits) * 1000:.0f} ms")
    assert len(waits) >= 5 and max(waits) < 0.1


def test_unknown_names_are_404_with_a_reason(made_up: Path) -> None:
    """A study or run not in the store, or a bad axis, answers 404 and says what is missing."""
    client = TestClient(create_app(made_up / "store"))
    assert client.get("/api/study/nope").json() == {"error": "study 'nope': not in the store"}
    assert client.get("/api/run/abcdef123456").status_code == 404
    assert "choose one of" in client.get("/api/study/hand/curves?x=time").json()["error"]
    assert client.get("/api/study/nope/events").json() == {"error": "study 'nope': not in the store"}


def test_odd_paths_and_half_written_landscapes_are_404(made_up: Path) -> None:
    """A NUL byte in a report path (once a 500), and a landscape folder holding only spec.json (a grid
    stopped before its first row; once a 500 on its endpoint): not found, and not listed."""
    client = TestClient(create_app(made_up / "store", made_up / "reports"))
    assert client.get("/reports/hand/%00").status_code == 404
    assert client.get("/reports/hand/a%00b/index.html").status_code == 404
    rid = client.get("/api/study/hand").json()["runs"][0]["id"]
    folder = made_up / "store" / "runs" / rid / "landscape" / "abcdef1234"
    folder.mkdir(parents=True)
    (folder / "spec.json").write_text("{}")
    assert client.get(f"/api/landscape/{rid}/abcdef1234").status_code == 404
    assert client.get("/api/study/hand/landscapes").json() == []


def test_serve_without_a_store_or_without_fastapi_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No store there: one line and exit 2; FastAPI missing: the extra to install."""
    from tests.conftest import assert_user_error, run_cli
    from trainlab.api import serve
    from trainlab.errors import TrainlabError

    assert_user_error(run_cli("serve", "--store", str(tmp_path / "nowhere")), "no store.sqlite there")
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    with pytest.raises(TrainlabError, match=r"trainlab serve needs FastAPI and uvicorn: pip install -e '\.\[serve\]'"):
        serve(tmp_path)


def test_long_runs_are_cached_for_display_and_a_zoom_reads_every_round(tmp_path: Path) -> None:
    """Runs of 2,500 rounds: the server keeps every 3rd round (at most 1,000 a run) for the default view; a
    view zoomed to rounds 100-200 gets all 101 of them, read from the store."""
    values = list(np.linspace(0.1, 0.9, 2500))
    runs = [MadeUpRun(1, seed, {"optim.name": "sgd"}, "sgd", values) for seed in (0, 1)]
    write_study(Store(tmp_path / "store"), "long", runs)
    client = TestClient(create_app(tmp_path / "store"))
    params = {"metric": "valid/accuracy", "points": 5000}
    (line,) = client.get("/api/study/long/curves", params=params).json()["traces"]
    assert len(line["x"]) == 834 and line["x"][:3] == [1, 4, 7]
    zoomed = client.get("/api/study/long/curves", params={**params, "x_min": 100, "x_max": 200}).json()
    assert zoomed["traces"][0]["x"] == list(range(100, 201))
    refused = client.get("/api/study/long/curves", params={**params, "x_min": 200, "x_max": 100})
    assert refused.status_code == 404 and "x_min" in refused.json()["error"]
