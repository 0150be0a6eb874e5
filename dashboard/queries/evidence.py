"""What an alert or incident page shows beyond the row: its events as a timeline, where they
came from (with the jump for impossible travel, its distance and speed), and the refresh-token
chain around every alert that involves the partner's tokens.

Events are capped (`limit`, and for an incident the events of its SCOPE_ALERTS most recent
alerts): a page shows the evidence, not a table dump.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from detect.geo import haversine_km
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


def visits(con: duckdb.DuckDBPyConnection, kind: str, target_id: str) -> pd.DataFrame:
    """The located events in time order, runs at one place merged: one row per stay (its first
    address, place, first and last event, events). Consecutive stays are what a traveller
    did, so `travel_jumps(visits(...))` gives each jump with the time really available for it
    (an address seen before and after a trip is two stays, not one)."""
    return con.execute(
        f"""WITH located AS (
                SELECT e.source_ip AS ip, e.country_iso AS country, e.city, e.latitude,
                       e.longitude, e.occurred_at, e.event_id
                {SCOPED_EVENTS} AND e.source_ip IS NOT NULL
                    AND e.latitude IS NOT NULL AND e.longitude IS NOT NULL
            ), marked AS (
                SELECT *, CASE WHEN (latitude, longitude) IS DISTINCT FROM
                    lag((latitude, longitude)) OVER (ORDER BY occurred_at, event_id)
                    THEN 1 ELSE 0 END AS moved
                FROM located
            ), stays AS (
                SELECT *, sum(moved) OVER (ORDER BY occurred_at, event_id
                                           ROWS UNBOUNDED PRECEDING) AS stay
                FROM marked
            )
            SELECT arg_min(ip, occurred_at) AS ip, arg_min(country, occurred_at) AS country,
                   arg_min(city, occurred_at) AS city, any_value(latitude) AS latitude,
                   any_value(longitude) AS longitude, min(occurred_at) AS first_seen,
                   max(occurred_at) AS last_seen, count(*) AS events
            FROM stays GROUP BY stay ORDER BY stay""",
        _scope(con, kind, target_id),
    ).df()


def travel_jumps(frame: pd.DataFrame) -> pd.DataFrame:
    """Consecutive located stays (from `visits`) as segments for the map's lines: where
    from and to, when, how far (great circle), and the speed that distance in that time needs
    (None when the second place was seen before the first was left: no time to travel)."""
    located = frame.dropna(subset=["latitude", "longitude"]).reset_index(drop=True)
    rows = []
    for a, b in zip(located.itertuples(), located.iloc[1:].itertuples(), strict=False):
        if (a.latitude, a.longitude) == (b.latitude, b.longitude):
            continue
        km = haversine_km(a.latitude, a.longitude, b.latitude, b.longitude)
        minutes = (pd.Timestamp(b.first_seen) - pd.Timestamp(a.last_seen)).total_seconds() / 60
        rows.append(
            {
                "from_ip": a.ip,
                "to_ip": b.ip,
                "from_place": f"{a.city or '?'}, {a.country or '?'}",
                "to_place": f"{b.city or '?'}, {b.country or '?'}",
                "source": [a.longitude, a.latitude],
                "target": [b.longitude, b.latitude],
                "left_at": a.last_seen,
                "arrived_at": b.first_seen,
                "distance_km": round(km, 1),
                "minutes": round(minutes, 1),
                "speed_kmh": round(km / (minutes / 60), 1) if minutes > 0 else None,
            }
        )
    return pd.DataFrame(rows, columns=JUMP_COLUMNS)


JUMP_COLUMNS = (
    "from_ip", "to_ip", "from_place", "to_place", "source", "target", "left_at", "arrived_at",
    "distance_km", "minutes", "speed_kmh",
)  # fmt: skip

# The partner's token calls of the same org and user in the hour of one of the target's events
# or the CHAIN_HOURS hours either side: the chain around what the alert saw, so every alert that
# touches the partner's tokens shows who held the token before and after. Hour slots make the
# match a hash join (org, user, hour), linear however many events the target has.
CHAIN_HOURS = 2


def token_chain(
    con: duckdb.DuckDBPyConnection, kind: str, target_id: str, limit: int = 500
) -> pd.DataFrame:
    """The refresh-token chain around an alert or incident, oldest first: its own events that
    carry a token fingerprint or a worker, and the partner's token calls of the same org and
    user within CHAIN_HOURS hours of its events. Per call: which worker presented which
    fingerprint, from where, what Salesforce did, and the token it returned; `in_alert` marks
    the target's own events. Empty when nothing involves the partner's tokens."""
    first, last, ids = _scope(con, kind, target_id)
    if not ids:
        return pd.DataFrame(columns=CHAIN_COLUMNS)
    return con.execute(
        f"""WITH own AS (
                SELECT e.event_id, e.org_id, e.user_id, e.occurred_at {SCOPED_EVENTS}
            ), slots AS (
                SELECT DISTINCT o.org_id, o.user_id,
                       date_trunc('hour', o.occurred_at) + to_hours(r.h) AS slot
                FROM own o, range(-{CHAIN_HOURS}, {CHAIN_HOURS + 1}) r(h)
                WHERE o.user_id IS NOT NULL
            ), near AS (
                SELECT e.* FROM events e
                WHERE e.occurred_at BETWEEN CAST(? AS TIMESTAMP) - to_hours({CHAIN_HOURS + 1})
                                        AND CAST(? AS TIMESTAMP) + to_hours({CHAIN_HOURS + 1})
                  AND (e.token_fp IS NOT NULL OR e.worker IS NOT NULL)
            )
            SELECT e.occurred_at AS at, e.worker, coalesce(e.token_fp, '(none)') AS presented,
                   coalesce(e.new_token_fp, '(none)') AS returned, {SHOWN_IP} AS ip,
                   e.country_iso AS country, e.city,
                   CASE WHEN e.is_success THEN 'accepted'
                        WHEN e.is_success = false THEN 'refused' ELSE 'unknown' END AS outcome,
                   coalesce(e.error_description, e.status) AS detail, e.event_type AS source,
                   e.event_id IN (SELECT event_id FROM own) AS in_alert
            FROM near e
            WHERE e.event_id IN (SELECT event_id FROM own)
               OR (e.event_type = 'token_exchange'
                   AND (e.org_id, e.user_id, date_trunc('hour', e.occurred_at))
                       IN (SELECT (org_id, user_id, slot) FROM slots))
            ORDER BY e.occurred_at, e.event_id LIMIT ?""",
        [first, last, ids, first, last, limit],
    ).df()


CHAIN_COLUMNS = (
    "at", "worker", "presented", "returned", "ip", "country", "city", "outcome", "detail",
    "source", "in_alert",
)  # fmt: skip
