"""Imports point one way: spec needs no torch; reports never import training or models; nothing imports cli."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "trainlab"
FORBIDDEN = {
    "spec": {
        "trainlab.data",
        "trainlab.models",
        "trainlab.optim",
        "trainlab.train",
        "trainlab.store",
        "trainlab.studies",
        "trainlab.report",
        "trainlab.api",
        "torch",
    },
    "report": {"trainlab.train", "trainlab.models", "trainlab.data", "trainlab.studies", "torch"},
    "analysis": {"trainlab.train", "trainlab.models", "trainlab.studies", "trainlab.report", "torch"},
    "store": {"trainlab.studies", "trainlab.report", "trainlab.api"},
    # the dashboard reads stores: it trains nothing and builds no model
    "serve": {"trainlab.train", "trainlab.models", "trainlab.data", "trainlab.studies", "trainlab.api", "torch"},
    # execution runs units of any kind; it knows none, nor reports
    "execution": {"trainlab.studies", "trainlab.report", "trainlab.api", "trainlab.serve"},
    # usable on any model without the rest of trainlab
    "landscape": {"trainlab.store", "trainlab.studies", "trainlab.report", "trainlab.api", "trainlab.train"},
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_layers_import_only_downward() -> None:
    """No module of a layer imports what that layer must not depend on."""
    problems = []
    for layer, banned in FORBIDDEN.items():
        for path in (SRC / layer).rglob("*.py"):
            for name in imports_of(path):
                if any(name == b or name.startswith(b + ".") for b in banned):
                    problems.append(f"{path.relative_to(SRC)} imports {name}")
    assert problems == []


SQL = re.compile(
    r"\b(SELECT\s|INSERT\s+(OR\s+\w+\s+)?INTO\b|DELETE\s+FROM\b|UPDATE\s+\w+\s+SET\b|CREATE\s+(TABLE|INDEX)\b)"
    r"|\._db\b|\bsqlite3\b"
)


def test_only_the_store_speaks_sql() -> None:
    """Everything else reads and writes through the store's methods: no SQL text, no store connection, no
    sqlite3 outside trainlab/store."""
    found = [
        f"{path.relative_to(SRC)}:{n}: {line.strip()}"
        for path in SRC.rglob("*.py")
        if "store" not in path.parts
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if SQL.search(line)
    ]
    assert found == []


def test_nothing_imports_the_cli() -> None:
    """Only the entry point knows about argv."""
    users = [p for p in SRC.rglob("*.py") if p.name != "cli.py" and "trainlab.cli" in imports_of(p)]
    assert users == []


def test_importing_the_spec_does_not_load_torch() -> None:
    """`import trainlab.spec` stays light (validation before any heavy import)."""
    code = "import sys, trainlab.spec; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.e2e  # a fresh interpreter
def test_a_training_run_does_not_load_the_report_libraries(tmp_path: Path) -> None:
    """`trainlab run` imports neither pandas nor plotly nor matplotlib (half a second of every start, and of
    every pool worker's): only reports, ls and the dashboard need them."""
    from tests.conftest import write_study

    study = write_study(tmp_path)
    code = (
        "import sys; from trainlab import cli; code = cli.main(['run', sys.argv[1], '--quiet']); "
        "print(code, sorted({'pandas', 'plotly', 'matplotlib'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(study)], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stdout + out.stderr
