from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.cli import cli


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dashboard-demo")
    store = folder / "demo.duckdb"
    result = CliRunner().invoke(
        cli, ["--db", str(store), "demo", "--no-serve", "--dir", str(folder)]
    )
    assert result.exit_code == 0, result.stderr
    return store
