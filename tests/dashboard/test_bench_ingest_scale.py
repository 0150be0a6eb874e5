"""`tokensentry bench --stage ingest-scale`: small orgs × workers against a slow fake."""

from __future__ import annotations

import json

from click.testing import CliRunner

from dashboard.cli import cli

FIELDS = {
    "kind", "orgs", "workers", "latency_ms", "jitter_ms", "rows_loaded", "failed_units",
    "unit_statuses", "seconds", "orgs_per_hour", "rows_per_s", "cpu_seconds", "cpu_per_wall",
    "writer_busy_per_wall", "writer_cpu_seconds", "peak_rss_mb", "fake_requests",
    "fake_cpu_seconds",
}  # fmt: skip


def test_ingest_scale_stage_reports_every_cell_and_caps_a_long_one():
    result = CliRunner().invoke(
        cli,
        ["bench", "--stage", "ingest-scale", "--format", "json", "--events", "1000",
         "--scale-orgs", "1,5", "--scale-workers", "2", "--scale-logins", "20",
         "--latency-ms", "20", "--jitter-ms", "5", "--scale-max-cell-seconds", "1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)["ingest_scale"]
    assert (figures["latency_ms"], figures["jitter_ms"], figures["logins_per_org"]) == (20, 5, 20)
    first, second = figures["cells"]
    for cell in (first, second):
        assert set(cell) >= FIELDS, FIELDS - set(cell)
        assert cell["kind"] == "small" and cell["workers"] == 2
        assert cell["failed_units"] == 0, cell["unit_statuses"]
        # A small org: LoginHistory, both ELF files' lines and the listing, OauthToken, users.
        assert cell["rows_loaded"] > cell["orgs"] * 20 * 2
        assert cell["seconds"] > 0 and cell["cpu_seconds"] > 0 and cell["peak_rss_mb"] > 0
        assert 0 < cell["writer_busy_per_wall"] <= 1
        # Every org makes its calls to the fake: the token, /limits, each source's queries.
        assert cell["fake_requests"] >= cell["orgs"] * 10
        per_hour = cell["orgs"] * 3600 / cell["seconds"]  # seconds is rounded to 10 ms
        assert abs(cell["orgs_per_hour"] - per_hour) <= 0.01 * per_hour
    assert first["orgs"] == 1 and "orgs_requested" not in first
    # One org took over a second, so five would outlast the 1 s budget: fewer ran, and it says so.
    assert second["orgs_requested"] == 5 and second["orgs"] < 5
