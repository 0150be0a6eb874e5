"""Alerts: the list every surface shows, one alert's events, and the analyst's decision."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

ALERT_STATUSES = ("new", "acknowledged", "resolved", "false_positive")

ALERTS_SQL = """
SELECT a.alert_id, a.detector_id AS detector, a.severity, a.org_id, a.app_name AS app,
       a.user_id, a.ips, a.first_seen_at AS first_seen, a.last_seen_at AS last_seen,
       a.event_count, a.summary, coalesce(t.status, 'new') AS status, a.evidence, a.title,
       a.created_at, a.updated_at, t.note AS triage_note, t.analyst, a.superseded_at,
       a.reopens_alert_id
FROM alerts a LEFT JOIN triage t USING (alert_id)
WHERE (? OR a.superseded_at IS NULL)
  AND (? IS NULL OR list_contains(?, a.detector_id))
  AND (? IS NULL OR list_contains(?, coalesce(t.status, 'new')))
  AND (? IS NULL OR a.last_seen_at >= ?)
  AND (? IS NULL OR a.org_id = ?)
  AND (? IS NULL OR list_position(['info','low','medium','high','critical'], a.severity)
                    >= list_position(['info','low','medium','high','critical'], ?))
ORDER BY list_position(['info','low','medium','high','critical'], a.severity) DESC,
         a.last_seen_at DESC, a.alert_id
"""


def alerts(
    con: duckdb.DuckDBPyConnection,
    *,
    detectors: list[str] | None = None,
    statuses: list[str] | None = None,
    since: datetime | None = None,
    org_id: str | None = None,
    min_severity: str | None = None,
    include_superseded: bool = False,
) -> pd.DataFrame:
    """Alerts matching the filters; superseded ones (a full re-scan no longer finds them) only
    when asked."""
    detectors = detectors or None
    statuses = statuses or None
    return con.execute(
        ALERTS_SQL,
        [
            include_superseded,
            detectors,
            detectors,
            statuses,
            statuses,
            since,
            since,
            org_id,
            org_id,
            min_severity,
            min_severity,
        ],
    ).df()


def _iso(moment: Any) -> str | None:
    if moment is None or (isinstance(moment, float) and pd.isna(moment)) or moment is pd.NaT:
        return None
    return pd.Timestamp(moment).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def alert_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Alerts in the CONTRACT §5 JSON shape."""
    records = []
    for row in frame.itertuples(index=False):
        records.append(
            {
                "alert_id": row.alert_id,
                "detector": row.detector,
                "severity": row.severity,
                "org_id": row.org_id,
                "app": row.app,
                "user_id": row.user_id,
                "ips": list(row.ips),
                "first_seen": _iso(row.first_seen),
                "last_seen": _iso(row.last_seen),
                "event_count": int(row.event_count),
                "summary": row.summary,
                "status": row.status,
                "evidence": json.loads(row.evidence)
                if isinstance(row.evidence, str)
                else row.evidence,
                "title": row.title,
                "created_at": _iso(row.created_at),
                "updated_at": _iso(row.updated_at),
                "superseded_at": _iso(row.superseded_at),
                "reopens_alert_id": row.reopens_alert_id,
            }
        )
    return records


def alert_events(con: duckdb.DuckDBPyConnection, alert_id: str) -> pd.DataFrame:
    """The events behind one alert, oldest first."""
    return con.execute(
        """SELECT e.event_id, e.occurred_at, e.event_type, e.grant_type, e.is_success, e.status,
                  e.user_id, e.username, e.app_name, e.source_ip, e.country_iso, e.city,
                  e.user_agent, e.sources
           FROM alerts a, unnest(a.event_ids) AS u(event_id)
           JOIN events e ON e.event_id = u.event_id
           WHERE a.alert_id = ? ORDER BY e.occurred_at""",
        [alert_id],
    ).df()


def severity_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = con.execute(
        """SELECT a.severity, count(*) FROM alerts a LEFT JOIN triage t USING (alert_id)
           WHERE coalesce(t.status, 'new') IN ('new', 'acknowledged') AND a.superseded_at IS NULL
           GROUP BY ALL"""
    ).fetchall()
    return {severity: count for severity, count in rows}


def set_triage(
    con: duckdb.DuckDBPyConnection,
    alert_id: str,
    status: str,
    *,
    note: str | None,
    analyst: str | None,
    now: datetime,
) -> None:
    """Record an analyst's decision; the only write this module makes."""
    if status not in ALERT_STATUSES:
        raise ValueError(f"status must be one of {', '.join(ALERT_STATUSES)}")
    con.execute(
        """INSERT INTO triage VALUES (?, ?, ?, ?, ?) ON CONFLICT (alert_id) DO UPDATE SET
           status = excluded.status, note = excluded.note, analyst = excluded.analyst,
           updated_at = excluded.updated_at""",
        [alert_id, status, note, analyst, now],
    )
