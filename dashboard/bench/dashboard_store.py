"""The dashboard bench's store: N events and M alerts generated set-based, kept for reuse.

The events are the detection bench's mix over 30 days (`sandbox.bulk`); the alerts spread over
the same days, orgs, detectors and a few thousand attacker addresses so they group; detect's
own incident grouping and the pages' roll-ups run over them as `tokensentry detect` would, a
third of the alerts are triaged through the audit trail's table shape, and the file is
checkpointed. With --workdir the store (`dashboard-N-M.duckdb`, its configuration and how long
its build took) stays there and a later run with the same sizes reuses it, migrated to this
checkout's schema and its roll-ups refreshed, instead of generating 10 M events again.
"""

from __future__ import annotations

import json
import time
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from detect import egress, incidents
from ingest import config as config_module
from ingest import db
from ingest.config import Config
from sandbox import bulk

from .. import queries

NOW = datetime(2026, 11, 29)  # the generated data's end: detection's clock
COUNTED = ("events", "alerts", "incidents", "triage", "audit_log")

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


def config_toml() -> str:
    """The bench store's configuration: the partner's two apps behind the trio's allowlist."""
    allowlist = json.dumps(bulk.ALLOWLIST)
    return "".join(f'[apps."{app}"]\nallowlist = {allowlist}\n\n' for app in bulk_apps())


def bulk_apps() -> tuple[str, ...]:
    return ("Acme Sync", "Acme Reports")


def bench_config() -> Config:
    return config_module.parse(tomllib.loads(config_toml()), base_dir=Path.cwd())


@dataclass(frozen=True)
class BenchStore:
    path: Path
    config: Path
    figures: dict[str, Any]  # how its build went (this run's, or the kept run's) and its rows


def bench_store(workdir: Path, events: int, alerts: int, *, keep: bool) -> BenchStore:
    """The store of `events` events and `alerts` alerts in `workdir`: reused when a kept one
    of these sizes is there (`keep`), else generated (and kept when `keep`)."""
    path = workdir / f"dashboard-{events}-{alerts}.duckdb"
    built = path.with_suffix(".json")  # how long its build took, kept beside it
    config = workdir / "dashboard-tokensentry.toml"
    config.write_text(config_toml())
    if keep and path.exists() and built.exists():
        figures = json.loads(built.read_text()) | {"reused_store": str(path)}
        with db.connect(path) as con:  # migrated to this checkout's schema on opening
            queries.refresh_rollups(con, bench_config(), now=NOW)  # incremental: quick
            con.execute("CHECKPOINT")
    else:
        partial = path.with_name(path.name + ".partial")
        for leftover in (path, built, partial, Path(f"{partial}.wal")):
            leftover.unlink(missing_ok=True)
        started = time.perf_counter()
        figures = build_store(partial, events, alerts)
        figures["build_seconds"] = round(time.perf_counter() - started, 1)
        figures["built_at"] = datetime.now().astimezone().isoformat(timespec="seconds")
        partial.replace(path)
        Path(f"{partial}.writer").unlink(missing_ok=True)  # the build's writer gate file
        if keep:
            built.write_text(json.dumps(figures, indent=1) + "\n")
    with db.connect(path, read_only=True) as con:
        figures["store"] = {
            table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
            for table in COUNTED
        }
    figures["store_mb"] = round(path.stat().st_size / 2**20, 1)
    return BenchStore(path, config, figures)


def build_store(path: Path, events: int, alerts: int) -> dict[str, Any]:
    """Generate the store at `path`; return how long each part took."""
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
        now = NOW
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
    timings["incidents_new"] = grouped.incidents_new
    return timings
