"""What an alert or incident page shows beyond the row: its events as a timeline, where they
came from (with the jump for impossible travel), and the refresh-token chain for reuse.

Events are capped (`limit`, and for an incident the events of its SCOPE_ALERTS most recent
alerts): a page shows the evidence, not a table dump.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from detect.scope import shown_ip_sql

SHOWN_IP = shown_ip_sql()  # a partner call without its NAT address: "unknown (not configured)"

EVENT_COLUMNS = f"""e.event_id, e.occurred_at, e.event_type, e.grant_type, e.is_success, e.status,
e.user_id, coalesce(ud.username, e.username) AS username, e.app_name AS app,
{SHOWN_IP} AS source_ip, e.country_iso, e.city, e.latitude, e.longitude, e.user_agent, e.worker,
e.token_fp, e.new_token_fp, e.error_description"""

# The event ids behind one alert or every alert of an incident, and their time span.
ALERT_SCOPE = "SELECT event_ids, first_seen_at, last_seen_at FROM alerts WHERE alert_id = ?"
# An incident can hold thousands of alerts over a month: its page shows the events of its most
# recent alerts, whose narrow span keeps the scan small (the alert list stays complete).
SCOPE_ALERTS = 200
INCIDENT_SCOPE = f"""SELECT flatten(list(event_ids)), min(first_seen_at), max(last_seen_at)
FROM (SELECT a.event_ids, a.first_seen_at, a.last_seen_at
      FROM incident_alerts m JOIN alerts a USING (alert_id) WHERE m.incident_id = ?
      ORDER BY a.last_seen_at DESC, a.alert_id LIMIT {SCOPE_ALERTS})"""
# The span, passed as constants, lets DuckDB skip every row group of `events` outside it (it
# keeps min/max per group), so one alert's events are found without reading 10 M rows.
SCOPED_EVENTS = """FROM events e
LEFT JOIN user_directory ud ON ud.org_id = e.org_id AND ud.user_id = e.user_id
WHERE e.occurred_at BETWEEN ? AND ? AND e.event_id IN (SELECT unnest(CAST(? AS VARCHAR[])))"""


def _scope(con: duckdb.DuckDBPyConnection, kind: str, target_id: str) -> list:
    sql = {"alert": ALERT_SCOPE, "incident": INCIDENT_SCOPE}[kind]
    row = con.execute(sql, [target_id]).fetchone()
    if row is None or row[0] is None:
        return [None, None, []]
    ids, first, last = row
    return [first, last, sorted(set(ids))]


def evidence_events(
    con: duckdb.DuckDBPyConnection, kind: str, target_id: str, limit: int = 2000
) -> pd.DataFrame:
    """The events behind an alert or incident, oldest first."""
    return con.execute(
        f"SELECT {EVENT_COLUMNS} {SCOPED_EVENTS} ORDER BY e.occurred_at, e.event_id LIMIT ?",
        [*_scope(con, kind, target_id), limit],
    ).df()


def locations(con: duckdb.DuckDBPyConnection, kind: str, target_id: str) -> pd.DataFrame:
    """Where the events came from, in order of first appearance: one row per address and place."""
    return con.execute(
        f"""SELECT e.source_ip AS ip, e.country_iso AS country, e.city, e.latitude,
                   e.longitude, min(e.occurred_at) AS first_seen, max(e.occurred_at) AS last_seen,
                   count(*) AS events
            {SCOPED_EVENTS} AND e.source_ip IS NOT NULL
            GROUP BY ALL ORDER BY first_seen, ip""",
        _scope(con, kind, target_id),
    ).df()


def travel_jumps(frame: pd.DataFrame) -> pd.DataFrame:
    """Consecutive located places (from `locations`) as segments for the map's arcs."""
    located = frame.dropna(subset=["latitude", "longitude"]).reset_index(drop=True)
    rows = [
        {
            "from_ip": a.ip,
            "to_ip": b.ip,
            "from_place": f"{a.city or '?'}, {a.country or '?'}",
            "to_place": f"{b.city or '?'}, {b.country or '?'}",
            "source": [a.longitude, a.latitude],
            "target": [b.longitude, b.latitude],
            "left_at": a.last_seen,
            "arrived_at": b.first_seen,
        }
        for a, b in zip(located.itertuples(), located.iloc[1:].itertuples(), strict=False)
        if (a.latitude, a.longitude) != (b.latitude, b.longitude)
    ]
    return pd.DataFrame(rows)


def token_chain(
    con: duckdb.DuckDBPyConnection, kind: str, target_id: str, limit: int = 500
) -> pd.DataFrame:
    """For refresh-token reuse: which worker presented which token fingerprint, when, from
    where, with what outcome, and the token Salesforce returned (oldest first)."""
    return con.execute(
        f"""SELECT e.occurred_at AS at, e.worker, e.token_fp AS presented,
                   coalesce(e.new_token_fp, '(none)') AS returned, {SHOWN_IP} AS ip,
                   e.country_iso AS country,
                   e.city,
                   CASE WHEN e.is_success THEN 'accepted'
                        WHEN e.is_success = false THEN 'refused' ELSE 'unknown' END AS outcome,
                   coalesce(e.error_description, e.status) AS detail, e.event_type AS source
            {SCOPED_EVENTS} AND (e.token_fp IS NOT NULL OR e.worker IS NOT NULL)
            ORDER BY e.occurred_at, e.event_id LIMIT ?""",
        [*_scope(con, kind, target_id), limit],
    ).df()
