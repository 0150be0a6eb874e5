"""Possible refresh-token reuse from Salesforce's own logs, which carry no token id.

Two successful refreshes of one (org, app, user) from different networks within `window_s`,
while that user had refreshed from one network only, followed by failed refreshes (Salesforce
revoked the family): the shape a stolen token leaves when the partner's log is not at hand.
Networks are judged by allowlist membership (`detect/scope.py`): the whole allowlist is one
network, so a partner egressing from several regions is covered. The app is the logged one or
the one `detect/attribution.py` inferred for a Login ELF row, and the finding says which.
Part of `refresh_token_reuse`; kept apart because it reasons from other evidence.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from .attribution import app_sql, inferred_sql
from .detector import Context, Finding
from .scope import network_key, trusted, watched_apps

EVENT_APP = app_sql("e")

REFRESHES = f"""e.event_type = 'login' AND e.grant_type = 'refresh_token'
    AND list_contains(?, lower({EVENT_APP})) AND e.user_id IS NOT NULL"""

SALESFORCE_SQL = f"""
WITH touched AS (  -- numbered, so the order below partitions by one integer, not 3 strings
    SELECT *, row_number() OVER () AS entity FROM (
        SELECT DISTINCT org_id, lower({EVENT_APP}) AS app_key, user_id FROM events e
        WHERE {{scope}} AND {REFRESHES})
),
-- Narrow on purpose: millions of refreshes are ordered here, so only what the order and the
-- pairing need is carried; the pairs found (a few) get their other columns from events below.
successes AS MATERIALIZED (
    SELECT e.event_id, t.entity, e.occurred_at, n.network
    FROM events e
    JOIN reuse_networks n ON n.app_key = lower({EVENT_APP}) AND n.ip = e.source_ip
    JOIN touched t
        ON t.org_id = e.org_id AND t.app_key = lower({EVENT_APP}) AND t.user_id = e.user_id
    WHERE {REFRESHES} AND coalesce(e.is_success, false)
),
pairs AS (
    SELECT *, lag(event_id) OVER w AS prev_event_id, lag(occurred_at) OVER w AS prev_at,
           lag(network) OVER w AS prev_network
    FROM successes
    WINDOW w AS (PARTITION BY entity ORDER BY occurred_at, event_id)
),
first_seen AS (
    SELECT entity, network, min(occurred_at) AS first_at FROM successes GROUP BY ALL
),
candidates AS (
    SELECT * FROM pairs
    WHERE prev_network IS NOT NULL AND network <> prev_network
      AND occurred_at - prev_at <= to_seconds(CAST(? AS BIGINT))
),
-- Networks the user refreshed from before the pair: an integration that alternates between
-- networks outside its allowlist has two or more and is never "possible reuse" (inside the
-- allowlist they are one network).
judged AS (
    SELECT c.event_id, c.prev_event_id, any_value(c.network) AS network,
           any_value(c.prev_network) AS prev_network, count(f.network) AS networks_before
    FROM candidates c
    LEFT JOIN first_seen f
        ON f.entity = c.entity AND f.first_at < c.prev_at
    GROUP BY c.event_id, c.prev_event_id
    HAVING count(f.network) <= 1
)
SELECT e.event_id, e.org_id, lower({EVENT_APP}) AS app_key, {EVENT_APP} AS app_name,
       e.user_id, e.occurred_at, e.updated_at, e.source_ip, j.network,
       {inferred_sql("e")} AS inferred, e.app_inferred_reason,
       j.prev_event_id, p.occurred_at AS prev_at, p.source_ip AS prev_ip, j.prev_network,
       {inferred_sql("p")} AS prev_inferred, p.app_inferred_reason AS prev_reason,
       j.networks_before
FROM judged j
JOIN events e ON e.event_id = j.event_id
JOIN events p ON p.event_id = j.prev_event_id
ORDER BY e.occurred_at, e.event_id
"""

NETWORK_IPS_SQL = f"""
SELECT lower({EVENT_APP}) AS app_key, any_value({EVENT_APP}) AS app, e.source_ip
FROM events e WHERE {REFRESHES} AND e.source_ip IS NOT NULL GROUP BY ALL
"""

FAILURES_SQL = f"""
SELECT e.event_id, e.occurred_at, e.status, {inferred_sql("e")} AS inferred,
       e.app_inferred_reason FROM events e
WHERE e.org_id = ? AND lower({EVENT_APP}) = ? AND e.user_id = ? AND e.event_type = 'login'
  AND e.grant_type = 'refresh_token' AND NOT coalesce(e.is_success, true)
  AND e.occurred_at > ? AND e.occurred_at <= ?
ORDER BY e.occurred_at, e.event_id
"""


def _networks(ctx: Context, watched: list[str]) -> pd.DataFrame:
    """(app, ip) → network key: the app's allowlist as one network, else the /24 or /48."""
    rows = ctx.con.execute(NETWORK_IPS_SQL, [watched]).fetchall()
    return pd.DataFrame(
        [(key, ip, network_key(ctx, app, ip)) for key, app, ip in rows],
        columns=["app_key", "ip", "network"],
    )


def from_salesforce_logs(ctx: Context) -> list[Finding]:
    s = ctx.settings
    watched = watched_apps(ctx)
    ctx.con.register("reuse_networks", _networks(ctx, watched))
    try:
        pairs = ctx.rows(
            SALESFORCE_SQL.format(scope=ctx.scope_sql()),
            [watched, watched, s["window_s"]],
        )
    finally:
        ctx.con.unregister("reuse_networks")
    findings = []
    for pair in pairs:
        org_id, app, user = pair["org_id"], pair["app_name"], pair["user_id"]
        end = pair["occurred_at"] + timedelta(seconds=s["failure_window_s"])
        failures = ctx.rows(FAILURES_SQL, [org_id, app.lower(), user, pair["occurred_at"], end])
        if not failures:
            continue
        gap = (pair["occurred_at"] - pair["prev_at"]).total_seconds()
        reasons = sorted(
            {r for r in (pair["prev_reason"], pair["app_inferred_reason"]) if r}
            | {f["app_inferred_reason"] for f in failures if f["inferred"]}
        )
        inferred = pair["prev_inferred"] or pair["inferred"] or any(f["inferred"] for f in failures)
        findings.append(
            Finding(
                dedup_key=f"salesforce|{org_id}|{app}|{user}|{pair['prev_at']:%Y-%m-%dT%H}",
                summary=(
                    f"{ctx.org_label(org_id)}: possible refresh-token reuse for {app}"
                    + (f" (app inferred: {reasons[0]})" if inferred and reasons else "")
                    + f", user {user}: refreshes from {pair['prev_ip']} and {pair['source_ip']} "
                    f"{gap:.0f} s apart, then {len(failures)} failed refresh(es) "
                    f"({failures[0]['status']})."
                ),
                first_seen_at=pair["prev_at"],
                last_seen_at=failures[-1]["occurred_at"],
                event_ids=[
                    pair["prev_event_id"],
                    pair["event_id"],
                    *(f["event_id"] for f in failures),
                ],
                evidence={
                    "classification": "possible_reuse",
                    "networks": [pair["prev_network"], pair["network"]],
                    "inside_allowlist": [
                        trusted(ctx, app, pair["prev_ip"]),
                        trusted(ctx, app, pair["source_ip"]),
                    ],
                    "failures": [f["status"] for f in failures],
                    "app_inferred": reasons if inferred else None,
                },
                org_id=org_id,
                app_name=app,
                user_id=user,
                ips=sorted({pair["prev_ip"], pair["source_ip"]}),
                severity="medium",
            )
        )
    return findings
