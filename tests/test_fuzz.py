"""Generated hostile input: a few hundred landscape CSVs for the dashboard's upload, and study files for the
command line. Whatever they hold, the server answers 200, 400 or 413 (never 500) and the command line exits
0 or 2 with one line (never a traceback)."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import run_cli

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

numbers = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "nan", "inf", "-inf", "1e999", "-0", "0x10", "1_000", " 3 ", "NaN", "null"]),
)
cells = st.one_of(numbers, st.text(max_size=8), st.text(alphabet="9", min_size=60, max_size=200))
headers = st.lists(st.sampled_from(["x", "y", "epoch", "loss", "accuracy", "", "x ", "z"]), min_size=0, max_size=6)


@st.composite
def landscape_csvs(draw: st.DrawFn) -> bytes:
    """Header-like first lines, rows of number-like or hostile cells, ragged rows, odd separators and bytes."""
    header = draw(headers)
    width = max(1, len(header) + draw(st.integers(-1, 1)))
    rows = draw(st.lists(st.lists(cells, min_size=width, max_size=width), max_size=30))
    text = "\n".join([",".join(header), *(",".join(r) for r in rows)])
    raw = text.encode("utf-8", "surrogatepass")
    return draw(st.one_of(st.just(raw), st.binary(max_size=200), st.just(raw.replace(b",", b";"))))


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - fastapi's TestClient
    pytest.importorskip("fastapi", reason="the dashboard needs FastAPI (pip install -e '.[serve]')")
    from fastapi.testclient import TestClient

    from trainlab.serve.app import create_app
    from trainlab.store import Store

    root = tmp_path_factory.mktemp("fuzz") / "store"
    Store(root).close()
    with TestClient(create_app(root)) as test_client:
        yield test_client


@FUZZ
@given(body=landscape_csvs())
def test_no_upload_makes_the_dashboard_fail(client, body: bytes) -> None:  # noqa: ANN001
    """200 with grids, or 400/413 with a reason: never a server error."""
    answer = client.post("/api/landscape/upload", content=body)
    assert answer.status_code in (200, 400, 413), answer.text[:300]
    assert answer.status_code == 200 or answer.json()["error"]


scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(), st.text(max_size=10))
trees = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=20,
)
keys = st.sampled_from(["name", "base", "runs", "grid", "seeds", "kind", "description", "store", "lottery", "x"])


@st.composite
def study_texts(draw: st.DrawFn) -> bytes:
    """Study-shaped YAML with hostile turns: any values under study keys, repeated keys, aliases that
    multiply, deep nesting, tabs and stray characters, bytes that are not UTF-8."""
    study = draw(st.dictionaries(keys, trees, max_size=6))
    text = yaml.safe_dump(study, allow_unicode=True)
    turn = draw(st.sampled_from(["none", "repeat", "laughs", "deep", "noise", "bytes"]))
    if turn == "repeat":
        text += text
    elif turn == "laughs":
        levels = draw(st.integers(1, 9))
        text += "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
            f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, levels)
        )
        text += f"description: *l{levels - 1}\n"
    elif turn == "deep":
        depth = draw(st.integers(50, 400))  # deeper: tests/spec/test_study.py (100,000 levels)
        text += "description: " + "[" * depth + "]" * depth + "\n"
    elif turn == "noise":
        text += draw(st.text(alphabet=string.printable + "\t\x00{}[]&*!|>%@`", max_size=40))
    raw = text.encode("utf-8")
    return draw(st.binary(max_size=100)) if turn == "bytes" else raw


@FUZZ
@given(raw=study_texts())
def test_no_study_file_makes_the_command_line_fail(tmp_path: Path, raw: bytes) -> None:
    """`trainlab check` on it: exit 0, or exit 2 with one line; never a traceback."""
    path = tmp_path / "study.yaml"
    path.write_bytes(raw)
    result = run_cli("check", str(path), "--store", str(tmp_path / "store"))
    assert result.returncode in (0, 2), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    if result.returncode == 2:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
