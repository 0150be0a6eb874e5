"""`tokensentry bench --stage dashboard`: a generated store (kept and reused with --workdir),
every page's queries timed, every page rendered in headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.bench.dashboard import page_queries
from dashboard.cli import cli


def bench(workdir: Path, *options: str) -> tuple[dict, str]:
    result = CliRunner().invoke(
        cli,
        ["bench", "--stage", "dashboard", "--workdir", str(workdir), *options],
    )
    assert result.exit_code == 0, result.output
    return (json.loads(result.stdout)["dashboard"] if "json" in options else {}), result.stdout


def test_dashboard_stage_times_every_page_query_and_reuses_its_store(tmp_path, monkeypatch):
    # No chromium on PATH: the pages cannot be rendered, the bench says why and still times
    # the queries.
    monkeypatch.setenv("PATH", str(tmp_path / "no-browser"))
    # Two warm runs (and two cold) per query: the stage's arithmetic, not its statistics.
    size = ["--dashboard-events", "3000", "--dashboard-alerts", "400", "--query-runs", "2"]
    figures, _ = bench(tmp_path, "--format", "json", *size)
    assert figures["store"]["events"] >= 3000 and figures["store"]["alerts"] == 400
    # Runs of four alerts share an org and an address: detect's grouping must merge them.
    assert 0 < figures["store"]["incidents"] < figures["store"]["alerts"]
    expected = {f"{page}/{name}" for page, calls in page_queries().items() for name, _ in calls}
    assert set(figures["queries"]) == expected
    for key, result_ in figures["queries"].items():
        assert "error" not in result_, key
        if not result_.get("missing"):
            assert 0 < result_["warm_p50_ms"] <= result_["warm_p95_ms"], key
            assert result_["cold_p50_ms"] > 0, key
    assert figures["pages"] == {
        "skipped": "pages not rendered: chromium is not on PATH (Debian: apt-get install chromium)"
    }
    assert "reused_store" not in figures

    store = tmp_path / "dashboard-3000-400.duckdb"
    assert store.exists()  # kept in --workdir for the next run
    _, table = bench(tmp_path, "--render-runs", "0", *size)
    lines = table.splitlines()
    assert "dashboard.reused_store" in table and str(store) in table
    built = f"{figures['build_events_seconds']}"
    assert any(line.split()[:2] == ["dashboard.build_events_seconds", built] for line in lines)
    assert "dashboard queries (ms)" in table
    assert "dashboard pages" not in table  # --render-runs 0


@pytest.mark.slow
def test_dashboard_stage_renders_every_page_in_chromium(tmp_path):
    figures, _ = bench(
        tmp_path, "--format", "json", "--render-runs", "1", "--query-runs", "0",
        "--dashboard-events", "20000", "--dashboard-alerts", "500",
    )  # fmt: skip
    assert "queries" not in figures  # timed by the test above; here only the pages
    rendered = figures["pages"]
    assert rendered["warm_runs"] == 1 and rendered["target_s"] == 2.0
    assert rendered["startup_s"] > 0 and rendered["empty_page_warm_s"] > 0
    names = set(rendered["pages"])
    assert {
        "overview",
        "queue",
        "search",
        "apps",
        "controls",
        "tokens",
        "pipeline",
        "alert",
    } <= names
    assert any(name.startswith("incident") for name in names)
    for name, page in rendered["pages"].items():
        assert "error" not in page, (name, page)
        assert page["cold_s"] > 0 and 0 < page["warm_p50_s"] <= page["warm_max_s"], name
    over = {name for name, page in rendered["pages"].items() if page["warm_max_s"] > 2.0}
    assert set(rendered["over_target"]) == over
