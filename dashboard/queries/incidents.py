"""Incidents: the queue's rows, one incident, and the alerts it holds.

An incident's status is not stored: it follows from the triage of the alerts it holds, so a
resolved incident that gains a new alert is open again while its resolved alerts keep their
triage. Open beats acknowledged beats resolved beats false positive.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from .filters import Filters, where
from .people import user_join
from .records import iso_z, one_record

SEVERITY_ORDER = "list_position(['info','low','medium','high','critical'], {})"

# Per incident: its status, and whether it was reopened (new alerts next to closed ones).
STATUS_SQL = """
SELECT m.incident_id,
    CASE WHEN bool_or(coalesce(t.status, 'new') = 'new') THEN 'new'
         WHEN bool_or(t.status = 'acknowledged') THEN 'acknowledged'
         WHEN bool_or(t.status = 'resolved') THEN 'resolved'
         ELSE 'false_positive' END AS status,
    bool_or(coalesce(t.status, 'new') = 'new')
        AND bool_or(coalesce(t.status, 'new') IN ('resolved', 'false_positive')) AS reopened,
    count(*) FILTER (WHERE coalesce(t.status, 'new') = 'new') AS new_alerts
FROM incident_alerts m LEFT JOIN triage t USING (alert_id)
{where}
GROUP BY m.incident_id
"""

INCIDENT_COLUMNS = """
i.incident_id, i.severity, s.status, i.org_id, i.app_name AS app, i.user_id, i.ips,
i.first_seen_at AS first_seen, i.last_seen_at AS last_seen, i.alert_count, i.summary,
i.detectors, s.reopened, s.new_alerts, i.linked_incidents, i.created_at, i.updated_at,
ud.username, ud.name AS user_full_name
"""


# The queue's orders: newest-, oldest- or biggest-first before the default (most severe, then
# most recent), which breaks ties.
INCIDENT_ORDERS = {
    "severity": "",
    "last seen": "i.last_seen_at DESC, ",
    "first seen": "i.first_seen_at DESC, ",
    "size": "i.alert_count DESC, ",
}


def _matching(filters: Filters | None) -> tuple[str, list[Any]]:
    """FROM … WHERE … of the incidents matching `filters`, with their status as `s`."""
    predicate, params = where(
        filters or Filters(),
        "i",
        status_sql="s.status",
        detectors_sql="i.detectors",
        id_sql="i.incident_id",
    )
    sql = f"""
        FROM incidents i JOIN ({STATUS_SQL.format(where="")}) s USING (incident_id)
        {user_join("i")}
        WHERE {predicate}"""
    return sql, params


def incidents(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    *,
    limit: int | None = None,
    offset: int = 0,
    order: str = "severity",
) -> pd.DataFrame:
    """The queue: incidents matching `filters`, most severe first, then most recent (or first
    by `order`, one of INCIDENT_ORDERS); `limit` rows from `offset` (a page of the queue)."""
    matching, params = _matching(filters)
    sql = f"""
        SELECT {INCIDENT_COLUMNS} {matching}
        ORDER BY {INCIDENT_ORDERS[order]}{SEVERITY_ORDER.format("i.severity")} DESC,
                 i.last_seen_at DESC, i.incident_id
        {"LIMIT ?" if limit is not None else ""} OFFSET ?"""
    return con.execute(sql, params + ([limit] if limit is not None else []) + [offset]).df()


def incident_count(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> int:
    """How many incidents match `filters`: what a page of `incidents` is a part of."""
    matching, params = _matching(filters)
    return int(con.execute(f"SELECT count(*) {matching}", params).fetchone()[0])  # type: ignore[index]


def incident(con: duckdb.DuckDBPyConnection, incident_id: str) -> dict[str, Any] | None:
    """One incident with its status, or None. `linked_incidents`: the per-org incidents a
    cross_org incident summarises; `linked_by`: the cross_org incidents summarising this one."""
    sql = f"""
        WITH s AS ({STATUS_SQL.format(where="WHERE m.incident_id = ?")})
        SELECT {INCIDENT_COLUMNS}
        FROM incidents i JOIN s USING (incident_id) {user_join("i")}
        WHERE i.incident_id = ?"""
    record = one_record(con.execute(sql, [incident_id, incident_id]))
    if record is not None:
        record["linked_by"] = [
            row[0]
            for row in con.execute(
                "SELECT incident_id FROM incidents WHERE list_contains(linked_incidents, ?) "
                "ORDER BY incident_id",
                [incident_id],
            ).fetchall()
        ]
    return record


def incident_alerts(con: duckdb.DuckDBPyConnection, incident_id: str) -> pd.DataFrame:
    """The alerts an incident holds, most severe first (critical first), then oldest first,
    with their own status and why they joined."""
    # The ids first, then each alert through its primary key (`alert_id IN (constants)`)
    # instead of a join that reads the whole alerts table.
    members = con.execute(
        "SELECT alert_id, link, joined_at FROM incident_alerts WHERE incident_id = ?",
        [incident_id],
    ).fetchall()
    if not members:
        return pd.DataFrame(columns=INCIDENT_ALERT_COLUMNS)
    ids = [alert_id for alert_id, _, _ in members]
    frame = con.execute(
        f"""SELECT a.alert_id, a.detector_id AS detector, a.severity,
                  coalesce(t.status, 'new') AS status, a.org_id, a.app_name AS app, a.user_id,
                  ud.username, a.ips, a.first_seen_at AS first_seen, a.last_seen_at AS last_seen,
                  a.event_count, a.summary, t.note AS triage_note, t.analyst,
                  t.updated_at AS triaged_at
           FROM alerts a LEFT JOIN triage t USING (alert_id) {user_join("a")}
           WHERE a.alert_id IN ({", ".join("?" * len(ids))})
           ORDER BY {SEVERITY_ORDER.format("a.severity")} DESC, a.first_seen_at, a.alert_id""",
        ids,
    ).df()
    joined = {alert_id: (link, at) for alert_id, link, at in members}
    frame.insert(13, "link", [joined[a][0] for a in frame["alert_id"]])
    frame.insert(14, "joined_at", [joined[a][1] for a in frame["alert_id"]])
    return frame[list(INCIDENT_ALERT_COLUMNS)]


INCIDENT_ALERT_COLUMNS = (
    "alert_id", "detector", "severity", "status", "org_id", "app", "user_id", "username", "ips",
    "first_seen", "last_seen", "event_count", "summary", "link", "joined_at", "triage_note",
    "analyst", "triaged_at",
)  # fmt: skip


def incident_of(con: duckdb.DuckDBPyConnection, alert_id: str) -> str | None:
    row = con.execute(
        "SELECT incident_id FROM incident_alerts WHERE alert_id = ?", [alert_id]
    ).fetchone()
    return row[0] if row else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None  # NULL comes back from pandas as NaN


def incident_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Incidents as JSON-ready dicts (the `alerts --incidents --format json` shape)."""
    records = []
    for row in frame.itertuples(index=False):
        records.append(
            {
                "incident_id": row.incident_id,
                "severity": row.severity,
                "status": row.status,
                "org_id": row.org_id,
                "app": row.app,
                "user_id": row.user_id,
                "username": _text(row.username),
                "user_full_name": _text(row.user_full_name),
                "ips": list(row.ips),
                "first_seen": iso_z(row.first_seen),
                "last_seen": iso_z(row.last_seen),
                "alert_count": int(row.alert_count),
                "summary": row.summary,
                "detectors": list(row.detectors),
                "reopened": bool(row.reopened),
                "linked_incidents": list(row.linked_incidents),
            }
        )
    return records
