"""Shared fixtures: a fresh in-memory store, a pinned clock, the real-world samples."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from ingest import db

from .builds import build_once, private_copy

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TOKENSENTRY_SHARED", REPO.parent / "shared"))
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


def run_demo(folder: Path, *extra: str) -> str:
    """`tokensentry demo --no-serve --dir folder` run from `folder` without --db/--config, as
    `make demo` runs it: the store is folder/data/tokensentry.duckdb and the demo makes its
    configuration the default one (folder/data/tokensentry.toml). folder/demo.duckdb is a hard
    link to the store (private copies get two files). Returns the demo's stderr."""
    from click.testing import CliRunner

    from dashboard.cli import cli

    previous = Path.cwd()
    os.chdir(folder)
    try:
        result = CliRunner().invoke(
            cli,
            ["demo", "--no-serve", "--dir", str(folder), *extra],
            catch_exceptions=False,
            env={"TOKENSENTRY_DB": None, "TOKENSENTRY_CONFIG": None},
        )
    finally:
        os.chdir(previous)
    assert result.exit_code == 0, result.stderr
    os.link(folder / "data" / "tokensentry.duckdb", folder / "demo.duckdb")
    return result.stderr


def built_demo(request, factory, name: str, *extra: str) -> Path:
    """The demo folder built once per run (whatever the number of xdist workers), copied for
    this worker: every test of the worker reads the same private copy, as it did its own build
    before, and no DuckDB file is ever opened by two processes."""

    def build(folder: Path) -> None:
        (folder / "demo.stderr").write_text(run_demo(folder, *extra))

    built = build_once(request.config, factory, name, build)
    return private_copy(built, factory.mktemp(name))


@pytest.fixture(scope="session")
def demo_build(request, tmp_path_factory) -> tuple[Path, Path, str]:
    """`tokensentry demo --no-serve --as-of DEMO_AS_OF` once per run (folder, store, its
    stderr), shared by the demo's and the notebooks' tests: building it is the slow part."""
    folder = built_demo(request, tmp_path_factory, "demo-as-of", "--as-of", DEMO_AS_OF)
    return folder, folder / "demo.duckdb", (folder / "demo.stderr").read_text()


@pytest.fixture
def demo_copy(demo_build, tmp_path) -> tuple[Path, Path]:
    """A private copy of the pinned demo folder (folder, store), for a test that writes to it."""
    folder = private_copy(demo_build[0], tmp_path / "demo")
    return folder, folder / "demo.duckdb"


# The longest tests and the ones that build a world, first: with two xdist workers the run
# ends when the last long test does, so none may be dealt out last (profile of issue 16).
START_FIRST = (
    "tests/test_demo.py::test_make_demo_on_the_same_date_gives_the_same_alert_ids",
    "tests/ingest/test_live_state.py::test_kill_9_",
    "tests/detect/test_world_scenario.py",
    "tests/test_demo.py",
    "tests/dashboard/test_browser.py",
    "tests/dashboard/test_browser_hostile.py",
    "tests/ingest/test_refresh_processes.py::test_100_threads_in_4_processes_for_a_minute",
    "tests/dashboard/test_browser_evidence.py",
    "tests/dashboard/test_browser_one_truth.py",
    "tests/test_notebooks.py",
    "tests/ingest/test_live.py",
    "tests/ingest/test_live_elf.py",
)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: two workers per core. With one, the cores sat idle 41 % of the run (user +
    sys 645 s over 9:10 on 2 cores): the long tests mostly wait (a browser on Streamlit, the
    refresh soak's paced threads, kill -9 and lock timeouts), and a second worker fills it.
    At most one worker per GB of memory (a worker and its browser peak near 0.8 GB)."""
    cores = len(os.sched_getaffinity(0))
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**30
    return max(1, min(2 * cores, max(cores, memory_gb)))


@pytest.hookimpl(trylast=True)  # after xdist's own, which names each test's group
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next(
            (i for i, prefix in enumerate(START_FIRST) if item.nodeid.startswith(prefix)),
            len(START_FIRST),
        )

    items.sort(key=rank)  # stable: the order within each rank is the collection's
    # `--dist loadgroup` sends a group to one worker by an `@group` suffix xdist writes into
    # each marked test's id. pytest 9.2 keeps ids where xdist cannot write them
    # (pytest-dev/pytest-xdist#1386): the groups then scatter without a word, and every worker
    # builds the worlds they were meant to share. Stop instead of running that slowly.
    if getattr(config.option, "loadgroup", False):
        scattered = [
            item.nodeid
            for item in items
            if item.get_closest_marker("xdist_group") and "@" not in item.nodeid
        ]
        if scattered:
            message = (
                f"--dist loadgroup is not grouping {len(scattered)} tests (first: "
                f"{scattered[0]}): this pytest-xdist cannot mark groups under pytest "
                f"{pytest.__version__} (pytest-dev/pytest-xdist#1386). Install the versions "
                "pyproject.toml pins: pip install -e '.[test]'"
            )
            print(f"tests/conftest.py: {message}", file=sys.stderr)  # xdist hides a worker's error
            raise pytest.UsageError(message)
