"""Shared fixtures: a fresh in-memory store, a pinned clock, the real-world samples."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from ingest import db

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(__import__("os").environ.get("TOKENSENTRY_SHARED", REPO.parent / "shared"))
REALWORLD = SHARED / "data" / "realworld"
FIXED_NOW = datetime(2026, 11, 29, 12, 0, 0)


@pytest.fixture
def store() -> Iterator[duckdb.DuckDBPyConnection]:
    con = db.memory()
    yield con
    con.close()


@pytest.fixture
def clock():
    return lambda: FIXED_NOW


@pytest.fixture
def realworld() -> Path:
    if not REALWORLD.exists():
        pytest.skip(f"real-world samples not found at {REALWORLD} (set TOKENSENTRY_SHARED)")
    return REALWORLD


DEMO_AS_OF = "2026-11-29"  # a pinned reference date: the same demo world, the same alert ids


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory) -> tuple[Path, Path, str]:
    """`tokensentry demo --no-serve` once per session (folder, store, its stderr), shared by
    the demo's and the notebooks' tests: building it is the slow part."""
    from click.testing import CliRunner

    from dashboard.cli import cli

    folder = tmp_path_factory.mktemp("demo")
    store = folder / "demo.duckdb"
    result = CliRunner().invoke(
        cli,
        ["--db", str(store), "demo", "--no-serve", "--dir", str(folder), "--as-of", DEMO_AS_OF],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    return folder, store, result.stderr
