"""The overview page's numbers: open alerts over time, open vs triaged, the busiest apps and orgs.

Every function aggregates in DuckDB and returns a small frame (one row per day x key, or one row
per key), whatever the size of the alerts table.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from .filters import Filters, where

OPEN = ("new", "acknowledged")
STATUS_SQL = "coalesce(t.status, 'new')"


def _alert_predicate(filters: Filters | None) -> tuple[str, list]:
    return where(
        filters or Filters(),
        "a",
        status_sql=STATUS_SQL,
        detectors_sql="[a.detector_id]",
        id_sql="a.alert_id",
    )


def open_alerts_by_day(con: duckdb.DuckDBPyConnection, filters: Filters | None) -> pd.DataFrame:
    """Open alerts per day they were last seen, by severity and detector (long form, for charts)."""
    predicate, params = _alert_predicate(filters)
    return con.execute(
        f"""SELECT date_trunc('day', a.last_seen_at) AS day, a.severity,
                   a.detector_id AS detector, count(*) AS alerts
            FROM alerts a LEFT JOIN triage t USING (alert_id)
            WHERE {predicate} AND {STATUS_SQL} IN ('new', 'acknowledged')
            GROUP BY ALL ORDER BY day, a.severity, detector""",
        params,
    ).df()


def alerts_by_status(con: duckdb.DuckDBPyConnection, filters: Filters | None) -> pd.DataFrame:
    """Alert counts per triage status, every status present (zero when none)."""
    predicate, params = _alert_predicate(filters)
    return con.execute(
        f"""SELECT s.status, coalesce(c.alerts, 0) AS alerts,
                   s.status IN ('new', 'acknowledged') AS open
            FROM (SELECT unnest(['new', 'acknowledged', 'resolved', 'false_positive']) AS status,
                         generate_subscripts(['new', 'acknowledged', 'resolved',
                                              'false_positive'], 1) AS rank) s
            LEFT JOIN (SELECT {STATUS_SQL} AS status, count(*) AS alerts
                       FROM alerts a LEFT JOIN triage t USING (alert_id)
                       WHERE {predicate} GROUP BY ALL) c USING (status)
            ORDER BY s.rank""",
        params,
    ).df()


def top_open(
    con: duckdb.DuckDBPyConnection, filters: Filters | None, by: str, limit: int = 10
) -> pd.DataFrame:
    """The apps (`by="app"`) or orgs (`by="org"`) with the most open alerts."""
    column = {"app": "coalesce(a.app_name, '(unknown app)')", "org": "coalesce(a.org_id, '')"}[by]
    predicate, params = _alert_predicate(filters)
    return con.execute(
        f"""SELECT {column} AS {by}, count(*) AS open_alerts,
                   count(*) FILTER (WHERE a.severity IN ('high', 'critical')) AS high_or_critical
            FROM alerts a LEFT JOIN triage t USING (alert_id)
            WHERE {predicate} AND {STATUS_SQL} IN ('new', 'acknowledged')
            GROUP BY ALL ORDER BY open_alerts DESC, {by} LIMIT ?""",
        [*params, limit],
    ).df()


def filter_options(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """The orgs and apps the sidebar offers: every one the store has seen."""
    orgs = [
        row[0]
        for row in con.execute(
            "SELECT DISTINCT org_id FROM events WHERE org_id IS NOT NULL ORDER BY 1"
        ).fetchall()
    ]
    apps = [
        row[0]
        for row in con.execute(
            """SELECT DISTINCT app_name FROM (
                   SELECT app_name FROM events UNION ALL SELECT app_name FROM alerts)
               WHERE app_name IS NOT NULL ORDER BY 1"""
        ).fetchall()
    ]
    return {"orgs": orgs, "apps": apps}
