"""Alerts: the list every surface shows, one alert's events, and the analyst's decision."""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

from detect.scope import shown_ip_sql

from .filters import Filters, where
from .people import user_columns, user_join
from .records import iso_z, one_record

SEVERITY_RANK = "list_position(['info','low','medium','high','critical'], {})"

# Two steps: the page of ids is chosen over the few columns the filters and the order need,
# then only its rows are read whole (a queue of 100 k alerts is not converted to pandas).
ALERTS_SQL = f"""
WITH page AS (
    SELECT a.alert_id, {SEVERITY_RANK.format("a.severity")} AS rank, a.last_seen_at
    FROM alerts a LEFT JOIN triage t USING (alert_id)
    WHERE {{predicate}}
    ORDER BY {{order}}rank DESC, a.last_seen_at DESC, a.alert_id
    {{limit}} OFFSET ?
)
SELECT a.alert_id, a.detector_id AS detector, a.severity, a.org_id, a.app_name AS app,
       a.user_id, a.ips, a.first_seen_at AS first_seen, a.last_seen_at AS last_seen,
       a.event_count, a.summary, coalesce(t.status, 'new') AS status, a.evidence, a.title,
       a.created_at, a.updated_at, t.note AS triage_note, t.analyst, a.superseded_at,
       a.reopens_alert_id, m.incident_id, {user_columns()}
FROM page p JOIN alerts a USING (alert_id) LEFT JOIN triage t USING (alert_id)
LEFT JOIN incident_alerts m USING (alert_id) {user_join("a")}
ORDER BY {{order}}p.rank DESC, p.last_seen_at DESC, a.alert_id
"""
# The queue's orders, before the default (most severe, then most recent), which breaks ties.
ALERT_ORDERS = {
    "severity": "",
    "last seen": "a.last_seen_at DESC, ",
    "first seen": "a.first_seen_at DESC, ",
    "size": "a.event_count DESC, ",
}


def alerts(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    *,
    detectors: list[str] | None = None,
    statuses: list[str] | None = None,
    since: datetime | None = None,
    org_id: str | None = None,
    min_severity: str | None = None,
    include_superseded: bool = False,
    limit: int | None = None,
    alert_ids: list[str] | None = None,
    offset: int = 0,
    order: str = "severity",
) -> pd.DataFrame:
    """Alerts, most severe first: `filters` (the dashboard's) and the CLI's keyword options;
    superseded ones (a full re-scan no longer finds them) only when asked; `alert_ids`: only
    these (the webhook's new alerts). `order` (one of ALERT_ORDERS) puts the newest, oldest or
    biggest first; `limit` rows from `offset` (a page of the queue)."""
    predicate, params = _predicate(
        filters, detectors=detectors, statuses=statuses, since=since, org_id=org_id,
        min_severity=min_severity, include_superseded=include_superseded, alert_ids=alert_ids,
    )  # fmt: skip
    if limit is not None:
        params.append(limit)
    params.append(offset)
    sql = ALERTS_SQL.format(
        predicate=predicate,
        limit="LIMIT ?" if limit is not None else "",
        order=ALERT_ORDERS[order],
    )
    return con.execute(sql, params).df()


def alert_count(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> int:
    """How many alerts `alerts(con, filters)` lists: what a page of it is a part of."""
    predicate, params = _predicate(filters)
    sql = f"SELECT count(*) FROM alerts a LEFT JOIN triage t USING (alert_id) WHERE {predicate}"
    return int(con.execute(sql, params).fetchone()[0])  # type: ignore[index]


def _predicate(
    filters: Filters | None,
    *,
    detectors: list[str] | None = None,
    statuses: list[str] | None = None,
    since: datetime | None = None,
    org_id: str | None = None,
    min_severity: str | None = None,
    include_superseded: bool = False,
    alert_ids: list[str] | None = None,
) -> tuple[str, list[Any]]:
    predicate, params = where(
        filters or Filters(),
        "a",
        status_sql="coalesce(t.status, 'new')",
        detectors_sql="[a.detector_id]",
        id_sql="a.alert_id",
    )
    clauses = [predicate]
    if not include_superseded:
        clauses.append("a.superseded_at IS NULL")
    if detectors:
        clauses.append("list_contains(?, a.detector_id)")
        params.append(list(detectors))
    if statuses:
        clauses.append("list_contains(?, coalesce(t.status, 'new'))")
        params.append(list(statuses))
    if since is not None:
        clauses.append("a.last_seen_at >= ?")
        params.append(since)
    if org_id is not None:
        clauses.append("a.org_id = ?")
        params.append(org_id)
    if alert_ids is not None:
        clauses.append("list_contains(?, a.alert_id)")
        params.append(list(alert_ids))
    if min_severity is not None:
        clauses.append(f"{SEVERITY_RANK.format('a.severity')} >= {SEVERITY_RANK.format('?')}")
        params.append(min_severity)
    return " AND ".join(clauses), params


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


def alert_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Alerts in the CONTRACT §5 JSON shape."""
    records = []
    for row in frame.itertuples(index=False):
        records.append(
            {
                "alert_id": row.alert_id,
                "detector": row.detector,
                "severity": row.severity,
                "org_id": _text(row.org_id),  # NULL comes back from pandas as NaN: JSON null
                "app": _text(row.app),
                "user_id": _text(row.user_id),
                "username": _text(row.username),
                "user_full_name": _text(row.user_full_name),
                "ips": list(row.ips),
                "first_seen": iso_z(row.first_seen),
                "last_seen": iso_z(row.last_seen),
                "event_count": int(row.event_count),
                "summary": row.summary,
                "status": row.status,
                "evidence": json.loads(row.evidence)
                if isinstance(row.evidence, str)
                else row.evidence,
                "title": row.title,
                "created_at": iso_z(row.created_at),
                "updated_at": iso_z(row.updated_at),
                "superseded_at": iso_z(row.superseded_at),
                "reopens_alert_id": _text(row.reopens_alert_id),
            }
        )
    return records


def alert_events(con: duckdb.DuckDBPyConnection, alert_id: str) -> pd.DataFrame:
    """The events behind one alert, oldest first; an app-less login shows its inferred app and
    why (`detect/attribution.py`), never as if the log had named it."""
    ids, first, last = _event_scope(con, alert_id)
    return con.execute(
        f"""SELECT e.event_id, e.occurred_at, e.event_type, e.grant_type, e.is_success, e.status,
                  e.user_id, e.username, e.app_name, {shown_ip_sql()} AS source_ip,
                  e.country_iso, e.city,
                  e.user_agent, e.sources, e.inferred_app, e.app_inferred_reason
           FROM events e
           WHERE e.occurred_at BETWEEN ? AND ? AND list_contains(?, e.event_id)
           ORDER BY e.occurred_at, e.event_id""",
        [first, last, ids],
    ).df()


def _event_scope(con: duckdb.DuckDBPyConnection, alert_id: str) -> tuple[list[str], Any, Any]:
    """An alert's event ids and time span. The span, passed as constants, lets DuckDB skip
    every row group of `events` outside it (min/max per group): one alert's events are found
    without reading 10 million rows."""
    row = con.execute(
        "SELECT event_ids, first_seen_at, last_seen_at FROM alerts WHERE alert_id = ?",
        [alert_id],
    ).fetchall()
    return (list(row[0][0]), row[0][1], row[0][2]) if row else ([], None, None)


def severity_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = con.execute(
        """SELECT a.severity, count(*) FROM alerts a LEFT JOIN triage t USING (alert_id)
           WHERE coalesce(t.status, 'new') IN ('new', 'acknowledged') AND a.superseded_at IS NULL
           GROUP BY ALL"""
    ).fetchall()
    return {severity: count for severity, count in rows}


def alert(con: duckdb.DuckDBPyConnection, alert_id: str) -> dict[str, Any] | None:
    """One alert for its page: the row, its triage, its incident, the detector's runbook, and
    how its app was inferred when the logs did not name it."""
    record = one_record(
        con.execute(
            f"""SELECT a.alert_id, a.detector_id AS detector, a.severity,
                      coalesce(t.status, 'new') AS status, a.org_id, a.app_name AS app,
                      a.user_id, a.ips, a.first_seen_at AS first_seen,
                      a.last_seen_at AS last_seen, a.event_count, a.title, a.summary, a.evidence,
                      a.created_at, a.updated_at, t.note AS triage_note, t.analyst,
                      t.updated_at AS triaged_at, m.incident_id, {user_columns()}
               FROM alerts a LEFT JOIN triage t USING (alert_id)
               LEFT JOIN incident_alerts m USING (alert_id) {user_join("a")}
               WHERE a.alert_id = ?""",
            [alert_id],
        )
    )
    if record is None:
        return None
    detector = _catalog().get(record["detector"])
    record["runbook"] = detector.runbook if detector else None
    record["detector_description"] = detector.description if detector else None
    record["attack"] = list(detector.attack) if detector else []
    record["app_inference"] = _app_inference(con, alert_id, record["evidence"])
    return record


@functools.lru_cache(maxsize=1)
def _catalog() -> dict[str, Any]:
    from detect import registry

    return registry.by_id()


def _app_inference(
    con: duckdb.DuckDBPyConnection, alert_id: str, evidence: Any
) -> dict[str, Any] | None:
    """Whether the alert's app was inferred, and why: from the evidence the detector kept, or
    from the events' `inferred_app` columns when the store has them (app attribution)."""
    found: dict[str, Any] = {}
    if isinstance(evidence, dict):
        found.update({k: v for k, v in evidence.items() if "infer" in k.lower()})
    has_columns = con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'events' "
        "AND column_name IN ('inferred_app', 'app_inferred_reason')"
    ).fetchone()[0]  # type: ignore[index]
    if has_columns == 2:
        ids, first, last = _event_scope(con, alert_id)
        rows = con.execute(
            """SELECT e.inferred_app, e.app_inferred_reason, count(*) AS events
               FROM events e
               WHERE e.occurred_at BETWEEN ? AND ? AND list_contains(?, e.event_id)
                 AND e.app_name IS NULL AND e.inferred_app IS NOT NULL
               GROUP BY ALL ORDER BY events DESC, e.inferred_app""",
            [first, last, ids],
        ).fetchall()
        if rows:
            found["events"] = [
                {"inferred_app": app, "reason": reason, "events": count}
                for app, reason, count in rows
            ]
    return found or None
