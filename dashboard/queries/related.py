"""What else an alert or an incident is tied to: other alerts that share with it an address
that is not the partner's own, a refresh token of its chain, or its user.

The same app is no tie (every alert of a partner's app in every org would be related), and
neither is an address inside an app's allowlist or known egress: the partner's shared NAT
gateways appear in most alerts and prove nothing, exactly as incident grouping ignores them
(`detect/incidents.py`). A token tie is the one incidents link on: an event of both presented
or received the same refresh-token fingerprint.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pandas as pd

from detect import egress
from ingest.config import Config

# A refresh token lives at most the 30-day idle timeout after it was issued, so an event that
# presented or received one of the target's tokens is within this of the target's span.
TOKEN_WINDOW = timedelta(days=31)

RELATED_COLUMNS = (
    "relation", "shared", "alert_id", "detector", "severity", "status", "org_id", "app",
    "user_id", "ips", "incident_id", "last_seen", "summary",
)  # fmt: skip

TARGET_SQL = """
SELECT a.alert_id, a.org_id, a.user_id, a.ips, a.event_ids, a.first_seen_at, a.last_seen_at
FROM alerts a WHERE list_contains(?, a.alert_id)
"""

# The refresh-token fingerprints the target's events presented or received.
FINGERPRINTS_SQL = """
SELECT DISTINCT fp FROM (
    SELECT unnest([e.token_fp, e.new_token_fp]) AS fp FROM events e
    WHERE e.occurred_at BETWEEN ? AND ? AND e.event_id IN (SELECT unnest(CAST(? AS VARCHAR[])))
) WHERE fp IS NOT NULL ORDER BY fp
"""

# Events that presented or received one of the target's fingerprints (a semi-join on the few
# fingerprints, within the tokens' lifetime around the target: row groups outside are skipped).
CHAIN_EVENTS_SQL = """
SELECT e.event_id FROM events e
WHERE e.occurred_at BETWEEN ? AND ?
  AND (e.token_fp IN (SELECT unnest(CAST(? AS VARCHAR[])))
       OR e.new_token_fp IN (SELECT unnest(CAST(? AS VARCHAR[]))))
"""

RELATED_SQL = """
WITH tied AS (
    SELECT a.alert_id,
           list_intersect(a.ips, CAST(? AS VARCHAR[])) AS shared_ips,
           a.user_id IS NOT NULL
               AND list_contains(CAST(? AS VARCHAR[]), a.org_id || '|' || a.user_id) AS same_user,
           list_has_any(a.event_ids, CAST(? AS VARCHAR[])) AS same_chain
    FROM alerts a
    WHERE a.superseded_at IS NULL AND NOT list_contains(CAST(? AS VARCHAR[]), a.alert_id)
)
SELECT concat_ws(', ',
           CASE WHEN len(r.shared_ips) > 0 THEN 'same IP' END,
           CASE WHEN r.same_chain THEN 'same token chain' END,
           CASE WHEN r.same_user THEN 'same user' END) AS relation,
       concat_ws('; ',
           CASE WHEN len(r.shared_ips) > 0 THEN array_to_string(list_sort(r.shared_ips), ', ') END,
           CASE WHEN r.same_user THEN a.user_id END) AS shared,
       a.alert_id, a.detector_id AS detector, a.severity, coalesce(t.status, 'new') AS status,
       a.org_id, a.app_name AS app, a.user_id, a.ips, m.incident_id, a.last_seen_at AS last_seen,
       a.summary
FROM tied r JOIN alerts a USING (alert_id) LEFT JOIN triage t USING (alert_id)
LEFT JOIN incident_alerts m USING (alert_id)
WHERE len(r.shared_ips) > 0 OR r.same_user OR r.same_chain
ORDER BY len(r.shared_ips) > 0 DESC, r.same_chain DESC,
         list_position(['info','low','medium','high','critical'], a.severity) DESC,
         a.last_seen_at DESC, a.alert_id
LIMIT ?
"""


def related(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    target_id: str,
    config: Config,
    now: datetime,
    *,
    limit: int = 200,
) -> pd.DataFrame:
    """Alerts outside the target (one alert, or every alert an incident holds) tied to it by an
    address that is not the partner's own, a refresh-token fingerprint, or the same user in
    the same org; IP ties first, then token ties, then most severe and most recent. `shared`
    names what they share. Judged against allowlists and known egress in force at `now`."""
    own = (
        [target_id]
        if kind == "alert"
        else [
            row[0]
            for row in con.execute(
                "SELECT alert_id FROM incident_alerts WHERE incident_id = ?", [target_id]
            ).fetchall()
        ]
    )
    rows = con.execute(TARGET_SQL, [own]).fetchall()
    if not rows:
        return pd.DataFrame(columns=RELATED_COLUMNS)
    addresses = sorted({ip for row in rows for ip in (row[3] or [])})
    trusted = set(trusted_ips(con, addresses, config, now))
    suspect = [ip for ip in addresses if ip not in trusted]
    users = sorted({f"{row[1]}|{row[2]}" for row in rows if row[1] and row[2]})
    event_ids = sorted({event for row in rows for event in (row[4] or [])})
    first, last = min(row[5] for row in rows), max(row[6] for row in rows)
    fingerprints = [
        fp for (fp,) in con.execute(FINGERPRINTS_SQL, [first, last, event_ids]).fetchall()
    ]
    chain = (
        [
            event
            for (event,) in con.execute(
                CHAIN_EVENTS_SQL,
                [first - TOKEN_WINDOW, last + TOKEN_WINDOW, fingerprints, fingerprints],
            ).fetchall()
        ]
        if fingerprints
        else []
    )
    return con.execute(RELATED_SQL, [suspect, users, chain, own, limit]).df()


def trusted_ips(
    con: duckdb.DuckDBPyConnection, ips: list[str], config: Config, now: datetime
) -> list[str]:
    """Which of `ips` are the partner's own (inside an allowlist or known egress at `now`)."""
    nets = egress.infrastructure(config, egress.load(con, config, now))
    return [ip for ip in ips if any(ip in net for net in nets)]
