"""Plant alerts directly (detectors are tested elsewhere) and group them as detect does."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import duckdb

from detect import egress, incidents
from detect.testing import ORG, config

T0 = datetime(2026, 11, 1, 9, 0)


def put_alert(
    con: duckdb.DuckDBPyConnection,
    alert_id: str,
    *,
    detector: str = "off_allowlist_ip",
    org_id: str | None = ORG,
    ips: Sequence[str] = (),
    hours: float = 0,
    duration_h: float = 1,
    user_id: str | None = None,
    app: str | None = "Acme Sync",
    severity: str = "high",
    event_ids: Sequence[str] = (),
    evidence: dict[str, Any] | None = None,
) -> str:
    first = T0 + timedelta(hours=hours)
    last = first + timedelta(hours=duration_h)
    con.execute(
        "INSERT INTO alerts (alert_id, detector_id, dedup_key, severity, org_id, app_name, "
        "user_id, ips, first_seen_at, last_seen_at, event_count, event_ids, title, summary, "
        "evidence, first_run_id, last_run_id, created_at, updated_at) "  # named: later
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'r', 'r', ?, ?)",  # migrations add
        [
            alert_id, detector, alert_id, severity, org_id, app, user_id, list(ips), first, last,
            len(event_ids), list(event_ids), f"title of {detector}", f"summary of {alert_id}",
            json.dumps(evidence or {}), first, first,
        ],
    )  # fmt: skip
    return alert_id


def group(
    con: duckdb.DuckDBPyConnection,
    *,
    apps: dict[str, Sequence[str]] | None = None,
    now: datetime = T0 + timedelta(days=30),
) -> incidents.IncidentOutcome:
    cfg = config(apps)
    return incidents.update(con, cfg, egress.load(con, cfg, now), now=now)


def membership(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("SELECT alert_id, incident_id FROM incident_alerts").fetchall())
