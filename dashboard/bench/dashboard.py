"""The dashboard stage of `tokensentry bench`: every page's queries on a big store, cold and warm.

The store is generated set-based in DuckDB (the detection bench's event mix, N events over 30
days, and M alerts spread over the same days, orgs, detectors and a few thousand attacker
addresses so they group), then detect's own incident grouping runs over it, a third of the
alerts are triaged through the audit trail's table shape, and the file is checkpointed.

Each page's queries run with the default filters (the last 30 days of data, no other
restriction), on a read-only connection as the dashboard opens them:
- cold: the query alone on a freshly opened connection (DuckDB's buffer pool empty; the OS page
  cache may hold the file, as it would on a dashboard host);
- warm: the same query again on an open connection.
p50 / p95 per query over the repetitions; the target is warm p95 < 300 ms on this machine.
Query functions of pages that this checkout does not have are listed as missing, not skipped
silently, and a query that raises is reported with its error.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from detect import egress, incidents
from ingest import db
from ingest.config import AppConfig, Config
from ingest.netlist import IpAllowlist
from sandbox import bulk

from .. import queries

TARGET_MS = 300.0
QUEUE_ROWS = 5000  # the queue page's cap
QUEUE_STATUSES = ("new", "acknowledged")  # the queue page's default status filter
# Per-org detectors only: a real cross_org alert has no org and comes once per app and day, so
# spreading it over every org as here would chain whole days of one app into one incident.
DETECTORS = [
    "off_allowlist_ip", "new_network", "suspicious_client", "refresh_token_reuse",
    "impossible_travel", "idle_token", "anomaly_score",
]  # fmt: skip

# Alerts over the events' 30 days: each names a few of the events' ids, an attacker address out
# of `addresses`, a user, an app; runs of four consecutive alerts share org and address, so
# they group into incidents as a real queue does.
ALERTS_SQL = """
INSERT INTO alerts BY NAME  -- later migrations add columns (NULL here)
WITH base AS (
    SELECT i, (hash(i * 13) % 1000)::INTEGER AS roll,
           TIMESTAMP '2026-10-30' + to_microseconds(CAST(i * (30 * 86400e6 / {n}) AS BIGINT))
               AS first_seen
    FROM range({n}) t(i)
)
SELECT md5('a' || i::VARCHAR)[1:20] AS alert_id,
    {detectors}[1 + roll % {n_detectors}] AS detector_id,
    'bench|' || i::VARCHAR AS dedup_key,
    CASE WHEN roll < 20 THEN 'critical' WHEN roll < 200 THEN 'high' WHEN roll < 600 THEN 'medium'
         WHEN roll < 900 THEN 'low' ELSE 'info' END AS severity,
    {orgs18}[1 + (i // 4) % 3] AS org_id,
    CASE WHEN i % 7 = 0 THEN 'Acme Reports' ELSE 'Acme Sync' END AS app_name,
    '0055g0000Int' || lpad((i % 40)::VARCHAR, 3, '0') || 'AAA' AS user_id,
    ['198.51.' || (i // 4 % {addresses} // 250)::VARCHAR || '.'
        || (i // 4 % {addresses} % 250)::VARCHAR] AS ips,
    first_seen AS first_seen_at, first_seen + to_minutes(5 + roll % 240) AS last_seen_at,
    3 AS event_count,
    [md5('e' || (i * {stride})::VARCHAR), md5('e' || (i * {stride} + 1)::VARCHAR),
     md5('e' || (i * {stride} + 2)::VARCHAR)] AS event_ids,
    'bench alert' AS title,
    'bench alert ' || i::VARCHAR || ' from 198.51.' || (i // 4 % {addresses} // 250)::VARCHAR
        || '.' || (i // 4 % {addresses} % 250)::VARCHAR AS summary,
    '{{"bench": true}}' AS evidence, 'bench' AS first_run_id, 'bench' AS last_run_id,
    first_seen AS created_at, first_seen AS updated_at
FROM base
"""

TRIAGE_SQL = """
INSERT INTO triage
SELECT alert_id, ['acknowledged', 'resolved', 'false_positive'][1 + (hash(alert_id) % 3)::INTEGER],
       'bench note', 'bench', TIMESTAMP '2026-11-29'
FROM alerts WHERE hash(alert_id) % 3 = 0;
INSERT INTO audit_log
SELECT md5('audit' || alert_id), updated_at, analyst, 'alert', alert_id, NULL, 'new', status,
       note, 'api'
FROM triage;
"""

RUNS_SQL = """
INSERT INTO runs (run_id, stage, unit_id, org_id, started_at, finished_at, status, rows_read,
                  rows_new, rows_quarantined, error, details)
SELECT 'run' || (i // 20)::VARCHAR, CASE WHEN i % 20 < 12 THEN 'ingest' ELSE 'detect' END,
       'unit' || (i % 20)::VARCHAR, {orgs18}[1 + i % 3],
       TIMESTAMP '2026-11-29' - to_hours(i // 20), TIMESTAMP '2026-11-29' - to_hours(i // 20)
           + INTERVAL 2 MINUTE,
       CASE WHEN i % 97 = 0 THEN 'failed' ELSE 'ok' END, 1000, 100, 0,
       CASE WHEN i % 97 = 0 THEN 'bench failure' END, NULL
FROM range(2000) t(i)
"""


@dataclass
class Subject:
    """What the detail pages open: the most severe incident and alert, an attacker address."""

    filters: queries.Filters
    queue: queries.Filters
    window: tuple[datetime, datetime]
    incident_id: str
    alert_id: str
    ip: str
    now: datetime
    config: Config


Call = Callable[[duckdb.DuckDBPyConnection, Subject], Any]


def _optional(
    name: str, call: Callable[[Callable[..., Any], duckdb.DuckDBPyConnection, Subject], Any]
) -> tuple[str, Call | None]:
    """A page query that may live in another branch's module: None when this checkout lacks it."""
    function = getattr(queries, name, None)
    if function is None:
        return name, None
    return name, lambda con, s: call(function, con, s)


def page_queries() -> dict[str, list[tuple[str, Call | None]]]:
    """Every query each page makes (as dashboard/web/app_pages call them), default filters."""
    return {
        "overview": [
            ("default_window", lambda con, s: queries.default_window(con)),
            _optional("alerts_by_status", lambda f, con, s: f(con, s.filters)),
            _optional("open_alerts_by_day", lambda f, con, s: f(con, s.filters)),
            _optional(
                "top_open", lambda f, con, s: (f(con, s.filters, "app"), f(con, s.filters, "org"))
            ),
            _optional("freshness", lambda f, con, s: f(con, s.now)),
            _optional("retention_gaps", lambda f, con, s: f(con)),
        ],
        "queue": [
            ("incidents", lambda con, s: queries.incidents(con, s.queue, limit=QUEUE_ROWS)),
            ("alerts", lambda con, s: queries.alerts(con, s.queue, limit=QUEUE_ROWS)),
        ],
        "incident": [
            ("incident", lambda con, s: queries.incident(con, s.incident_id)),
            ("incident_alerts", lambda con, s: queries.incident_alerts(con, s.incident_id)),
            ("alert (runbook)", lambda con, s: queries.alert(con, s.incident_id)),
            _optional("evidence_events", lambda f, con, s: f(con, "incident", s.incident_id)),
            _optional("locations", lambda f, con, s: f(con, "incident", s.incident_id)),
            _optional("token_chain", lambda f, con, s: f(con, "incident", s.incident_id)),
            _optional("visits", lambda f, con, s: f(con, "incident", s.incident_id)),
            _optional(
                "related", lambda f, con, s: f(con, "incident", s.incident_id, s.config, s.now)
            ),
            ("audit_trail", lambda con, s: queries.audit_trail(con, s.incident_id)),
        ],
        "alert": [
            ("alert", lambda con, s: queries.alert(con, s.alert_id)),
            _optional("evidence_events", lambda f, con, s: f(con, "alert", s.alert_id)),
            _optional("locations", lambda f, con, s: f(con, "alert", s.alert_id)),
            _optional("token_chain", lambda f, con, s: f(con, "alert", s.alert_id)),
            _optional("visits", lambda f, con, s: f(con, "alert", s.alert_id)),
            _optional("related", lambda f, con, s: f(con, "alert", s.alert_id, s.config, s.now)),
            ("audit_trail", lambda con, s: queries.audit_trail(con, s.alert_id)),
        ],
        "apps": [
            ("known_egress", lambda con, s: queries.known_egress(con, s.now)),
            _optional("egress_ips", lambda f, con, s: f(con, s.filters)),
        ],
        "controls": [
            (
                "controls_readiness",
                lambda con, s: queries.controls_readiness(con, s.config, s.window, now=s.now),
            ),
            (
                "controls_csv",
                lambda con, s: queries.controls_csv(
                    queries.controls_readiness(con, s.config, s.window, now=s.now)
                ),
            ),
        ],
        "tokens": [
            _optional("refresh_tokens", lambda f, con, s: f(con, s.filters)),
            _optional("dormant_wakes", lambda f, con, s: f(con, s.filters)),
        ],
        "pipeline": [
            ("store_counts", lambda con, s: queries.store_counts(con)),
            _optional("freshness", lambda f, con, s: f(con, s.now)),
            _optional("unavailable_sources", lambda f, con, s: f(con)),
            _optional("retention_gaps", lambda f, con, s: f(con)),
            _optional("detector_runs", lambda f, con, s: f(con)),
            _optional(
                "runs",
                lambda f, con, s: [f(con, stage, 200) for stage in ("ingest", "import", "detect")],
            ),
            _optional("quarantine_reasons", lambda f, con, s: f(con)),
            ("quarantine", lambda con, s: queries.quarantine(con, 200)),
        ],
        "search": [
            _optional("search_summary", lambda f, con, s: f(con, s.ip)),
            _optional("search_alerts", lambda f, con, s: f(con, s.ip)),
            _optional("search_events", lambda f, con, s: f(con, s.ip)),
        ],
    }


def bench_config() -> Config:
    allowlist = IpAllowlist.parse(bulk.ALLOWLIST)
    return Config(
        path=None,
        apps={
            "Acme Sync": AppConfig("Acme Sync", None, allowlist),
            "Acme Reports": AppConfig("Acme Reports", None, allowlist),
        },
    )


def build_store(path: Path, events: int, alerts: int) -> dict[str, Any]:
    """Generate the store; return how long each part took and what it holds."""
    orgs18 = bulk.orgs18()
    detectors = "[" + ", ".join(f"'{d}'" for d in DETECTORS) + "]"
    config = bench_config()
    timings: dict[str, Any] = {}
    with db.connect(path) as con:
        started = time.perf_counter()
        bulk.fill_events(con, events)
        timings["build_events_seconds"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        con.execute(
            ALERTS_SQL.format(
                n=alerts, detectors=detectors, n_detectors=len(DETECTORS), orgs18=orgs18,
                addresses=max(alerts // 8, 1), stride=max(events // alerts, 3),
            )
        )  # fmt: skip
        timings["build_alerts_seconds"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        now = datetime(2026, 11, 29)
        grouped = incidents.update(con, config, egress.load(con, config, now), now=now)
        timings["incident_grouping_seconds"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        queries.refresh_rollups(con, config, now=now)  # as `tokensentry detect` does
        timings["controls_snapshot_seconds"] = round(time.perf_counter() - started, 1)
        con.execute(TRIAGE_SQL)
        con.execute(RUNS_SQL.format(orgs18=orgs18))
        queries.add_known_egress(
            con, "203.0.113.200", app_name="Acme Sync", expires_at=now + timedelta(days=90),
            analyst="bench", now=now, note="bench",
        )  # fmt: skip
        con.execute("CHECKPOINT")
        counts = {
            table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
            for table in ("events", "alerts", "incidents", "triage", "audit_log")
        }
    timings["store"] = counts
    timings["incidents_new"] = grouped.incidents_new
    timings["store_mb"] = round(path.stat().st_size / 2**20, 1)
    return timings


def _subject(con: duckdb.DuckDBPyConnection) -> Subject:
    # The pages' own default: the last 30 days of data in whole UTC days (their date picker).
    window = queries.day_window(queries.default_window(con))
    filters = queries.Filters().with_window(window)
    top = queries.incidents(con, filters, limit=1)
    alert_id = con.execute(
        "SELECT alert_id FROM alerts ORDER BY list_position(['info','low','medium','high',"
        "'critical'], severity) DESC, last_seen_at DESC LIMIT 1"
    ).fetchone()[0]  # type: ignore[index]
    ip = con.execute("SELECT ips[1] FROM alerts WHERE alert_id = ?", [alert_id]).fetchone()[0]  # type: ignore[index]
    return Subject(
        filters=filters, window=window,  # type: ignore[arg-type]
        queue=replace(filters, statuses=QUEUE_STATUSES),
        incident_id=str(top.iloc[0]["incident_id"]), alert_id=alert_id, ip=ip,
        now=window[1], config=bench_config(),
    )  # fmt: skip


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def time_queries(path: Path, *, cold_runs: int = 3, warm_runs: int = 10) -> dict[str, Any]:
    """p50/p95 in ms per page query, cold and warm, on read-only connections."""
    with db.connect(path, read_only=True) as con:
        subject = _subject(con)
    results: dict[str, Any] = {}
    connect_ms: list[float] = []
    for page, calls in page_queries().items():
        for name, call in calls:
            key = f"{page}/{name}"
            if call is None:
                results[key] = {"missing": True}
                continue
            cold, warm, error = [], [], None
            try:
                for _ in range(cold_runs):
                    started = time.perf_counter()
                    with db.connect(path, read_only=True) as con:
                        opened = time.perf_counter()
                        call(con, subject)
                        cold.append((time.perf_counter() - opened) * 1000)
                    connect_ms.append((opened - started) * 1000)
                with db.connect(path, read_only=True) as con:
                    call(con, subject)
                    for _ in range(warm_runs):
                        started = time.perf_counter()
                        call(con, subject)
                        warm.append((time.perf_counter() - started) * 1000)
            except Exception as exc:  # reported per query: one broken page must not hide others
                error = f"{type(exc).__name__}: {exc}"
            results[key] = _figures(cold, warm, error)
    return {
        "queries": results,
        "connect_ms_p50": round(_percentile(connect_ms, 0.5), 1) if connect_ms else None,
        "warm_p95_over_target": sorted(
            key for key, r in results.items() if r.get("warm_p95_ms", 0) > TARGET_MS
        ),
        "target_warm_p95_ms": TARGET_MS,
    }


def _figures(cold: list[float], warm: list[float], error: str | None) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    if cold:
        figures["cold_p50_ms"] = round(_percentile(cold, 0.5), 1)
        figures["cold_p95_ms"] = round(_percentile(cold, 0.95), 1)
    if warm:
        figures["warm_p50_ms"] = round(_percentile(warm, 0.5), 1)
        figures["warm_p95_ms"] = round(_percentile(warm, 0.95), 1)
    if error:
        figures["error"] = error
    return figures


def measure_dashboard(workdir: Path, events: int, alerts: int) -> dict[str, Any]:
    store = workdir / "dashboard.duckdb"
    store.unlink(missing_ok=True)
    figures: dict[str, Any] = {"events": events, "alerts": alerts}
    figures.update(build_store(store, events, alerts))
    figures.update(time_queries(store))
    store.unlink(missing_ok=True)
    return figures
