"""What an alert or incident page shows beyond the row: its events as a timeline, where they
came from (with the jump for impossible travel), and the refresh-token chain for reuse.

Events are capped (`limit`): a page shows the evidence, not a table dump; counts stay exact.
"""

from __future__ import annotations

import duckdb
import pandas as pd

EVENT_COLUMNS = """e.event_id, e.occurred_at, e.event_type, e.grant_type, e.is_success, e.status,
e.user_id, e.username, e.app_name AS app, e.source_ip, e.country_iso, e.city, e.latitude,
e.longitude, e.user_agent, e.worker, e.token_fp, e.new_token_fp, e.error_description"""

# The event ids behind one alert, or behind every alert an incident holds.
ALERT_EVENT_IDS = "SELECT unnest(event_ids) AS event_id FROM alerts WHERE alert_id = ?"
INCIDENT_EVENT_IDS = """SELECT DISTINCT unnest(a.event_ids) AS event_id
FROM incident_alerts m JOIN alerts a USING (alert_id) WHERE m.incident_id = ?"""


def _ids_sql(kind: str) -> str:
    return {"alert": ALERT_EVENT_IDS, "incident": INCIDENT_EVENT_IDS}[kind]


def evidence_events(
    con: duckdb.DuckDBPyConnection, kind: str, target_id: str, limit: int = 2000
) -> pd.DataFrame:
    """The events behind an alert or incident, oldest first."""
    return con.execute(
        f"""SELECT {EVENT_COLUMNS} FROM ({_ids_sql(kind)}) ids
            JOIN events e USING (event_id) ORDER BY e.occurred_at, e.event_id LIMIT ?""",
        [target_id, limit],
    ).df()


def locations(con: duckdb.DuckDBPyConnection, kind: str, target_id: str) -> pd.DataFrame:
    """Where the events came from, in order of first appearance: one row per address and place."""
    return con.execute(
        f"""SELECT e.source_ip AS ip, e.country_iso AS country, e.city, e.latitude,
                   e.longitude, min(e.occurred_at) AS first_seen, max(e.occurred_at) AS last_seen,
                   count(*) AS events
            FROM ({_ids_sql(kind)}) ids JOIN events e USING (event_id)
            WHERE e.source_ip IS NOT NULL
            GROUP BY ALL ORDER BY first_seen, ip""",
        [target_id],
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
                   coalesce(e.new_token_fp, '(none)') AS returned, e.source_ip AS ip,
                   e.country_iso AS country,
                   e.city,
                   CASE WHEN e.is_success THEN 'accepted'
                        WHEN e.is_success = false THEN 'refused' ELSE 'unknown' END AS outcome,
                   coalesce(e.error_description, e.status) AS detail, e.event_type AS source
            FROM ({_ids_sql(kind)}) ids JOIN events e USING (event_id)
            WHERE e.token_fp IS NOT NULL OR e.worker IS NOT NULL
            ORDER BY e.occurred_at, e.event_id LIMIT ?""",
        [target_id, limit],
    ).df()
