"""`tokensentry bench --stage dashboard`: a generated store, every page's queries timed."""

from __future__ import annotations

import json

from click.testing import CliRunner

from dashboard.bench.dashboard import page_queries
from dashboard.cli import cli


def test_dashboard_stage_times_every_page_query_on_a_generated_store(tmp_path):
    result = CliRunner().invoke(
        cli,
        ["bench", "--stage", "dashboard", "--format", "json", "--workdir", str(tmp_path),
         "--dashboard-events", "3000", "--dashboard-alerts", "400"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)["dashboard"]
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
    assert not (tmp_path / "dashboard.duckdb").exists()  # the store is thrown away
