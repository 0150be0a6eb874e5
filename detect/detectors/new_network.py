"""Refresh-token use of an app from a network the app never used in that org.

Why it matters: an integration refreshes from a handful of egress networks, the same ones day
after day. Datadog's "previously unseen network for application OAuth token login" is the
closest published rule, and the Drift tokens' move from the vendor's AWS egress to DigitalOcean
and Tor was the cleanest signal of that campaign. This is the primary detector for machine
logins, which impossible travel leaves alone.

Per (org, app) it learns the networks (/24 for IPv4, /48 for IPv6) of every refresh-token use
and alerts, medium, on the first use from a network first seen at least `learning_days` after
the app's first use in that org; nothing during an app's learning period. The country is
reported next to the network.

Blind spots: an attacker inside the partner's own egress networks (a compromised worker);
apps whose refresh logins carry no app name (Login ELF alone); an egress that rotates through
a whole cloud region (use the allowlist or `known_egress` for those).
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from ..detector import Context, Detector, Example, Finding
from ..geo import network_of
from ..testing import ALLOWED_IP, partner_call, refresh

USES = """e.grant_type = 'refresh_token' AND e.event_type IN ('login', 'token_exchange')
          AND e.app_name IS NOT NULL AND e.source_ip IS NOT NULL"""

NEW_NETWORKS_SQL = f"""
WITH uses AS (
    SELECT e.event_id, e.org_id, lower(e.app_name) AS app_key, e.app_name, e.occurred_at,
           e.updated_at, e.source_ip, e.user_id, e.country_iso, n.network
    FROM events e JOIN ip_networks n ON n.ip = e.source_ip
    WHERE {USES}
),
apps AS (SELECT org_id, app_key, min(occurred_at) AS app_first FROM uses GROUP BY ALL),
networks AS (
    SELECT org_id, app_key, network, min(occurred_at) AS network_first
    FROM uses GROUP BY ALL
),
fresh AS (
    SELECT n.* FROM networks n JOIN apps a USING (org_id, app_key)
    WHERE n.network_first >= a.app_first + to_days(CAST(? AS BIGINT))
)
SELECT u.org_id, u.app_key, any_value(u.app_name) AS app_name, u.network,
       min(u.occurred_at) AS first_seen, max(u.occurred_at) AS last_seen,
       list(u.event_id ORDER BY u.occurred_at) AS event_ids,
       list(DISTINCT u.source_ip) AS ips,
       list(DISTINCT u.user_id) FILTER (WHERE u.user_id IS NOT NULL) AS users,
       list(DISTINCT u.country_iso) FILTER (WHERE u.country_iso IS NOT NULL) AS countries,
       bool_or({{scope}}) AS in_scope
FROM uses u JOIN fresh f USING (org_id, app_key, network)
WHERE u.occurred_at < f.network_first + INTERVAL 1 DAY
GROUP BY u.org_id, u.app_key, u.network
HAVING bool_or({{scope}})
"""


def find(ctx: Context) -> list[Finding]:
    ips = [
        ip
        for (ip,) in ctx.con.execute(
            f"SELECT DISTINCT e.source_ip FROM events e WHERE {USES}"
        ).fetchall()
    ]
    mapping = pd.DataFrame({"ip": ips, "network": [network_of(ip) for ip in ips]})
    ctx.con.register("ip_networks", mapping)
    try:
        rows = ctx.rows(
            NEW_NETWORKS_SQL.format(scope=ctx.scope_sql("u")), [ctx.settings["learning_days"]]
        )
    finally:
        ctx.con.unregister("ip_networks")
    geo = ctx.geo()
    findings = []
    for row in rows:
        if all(ctx.known_egress.covers(ip, row["app_name"]) for ip in row["ips"]):
            continue  # an analyst judged these addresses the partner's own egress
        countries = row["countries"] or sorted(
            {p.country_iso for ip in row["ips"] if (p := geo.lookup(ip)) and p.country_iso}
        )
        users = row["users"] or []
        findings.append(
            Finding(
                dedup_key=f"{row['org_id']}|{row['app_key']}|{row['network']}",
                summary=(
                    f"{ctx.org_label(row['org_id'])}: {row['app_name']} refreshed a token from "
                    f"{row['network']}"
                    + (f" ({', '.join(countries)})" if countries else "")
                    + f", a network it never used in this org, on {row['first_seen']:%Y-%m-%d} "
                    f"({len(row['event_ids'])} use(s), IPs {', '.join(sorted(row['ips']))})."
                ),
                first_seen_at=row["first_seen"],
                last_seen_at=row["last_seen"],
                event_ids=row["event_ids"],
                evidence={
                    "network": row["network"],
                    "countries": countries,
                    "users": sorted(users),
                    "learning_days": ctx.settings["learning_days"],
                },
                org_id=row["org_id"],
                app_name=row["app_name"],
                user_id=users[0] if len(users) == 1 else None,
                ips=sorted(row["ips"]),
            )
        )
    return findings


def _learned(days: int) -> list[dict]:
    """An integration alternating between two allowlisted regions, every 6 hours."""
    return [
        refresh(
            f"2026-04-{1 + d // 4:02d}T{(d % 4) * 6:02d}:00:00",
            ALLOWED_IP if d % 2 else "2001:db8:10::25",
        )
        for d in range(days * 4)
    ]


EXAMPLES = [
    Example("after 15 days from two regions, a refresh from a new network is medium",
            [*_learned(15), refresh("2026-04-16T03:00:00", "198.51.100.77")],
            expect=1, severity="medium"),
    Example("two allowlisted regions used alternately raise nothing",
            _learned(20), expect=0),
    Example("a new network inside the learning period is learned, not alerted",
            [*_learned(3), refresh("2026-04-03T03:00:00", "198.51.100.77")], expect=0),
    Example("the partner's own log of a call from a new egress counts too",
            [*_learned(15), partner_call("2026-04-16T03:00:00", "192.0.2.77")], expect=1),
]  # fmt: skip

DETECTOR = Detector(
    id="new_network",
    title="Refresh token used from a network new to the app",
    severity="medium",
    description=__doc__ or "",
    find=find,
    examples=EXAMPLES,
    runbook="""\
1. Is the network the partner's? New region, NAT gateway, CI runner: add it to the app's
   allowlist (and Salesforce's Refresh Token IP Allowlist) and mark the alert false_positive.
2. If not: look the network up (owner, hosting, Tor) and check whether the same app shows new
   networks in other orgs (`cross_org`): a vendor-side compromise looks exactly like that.
3. Revoke the affected users' tokens for the app and review their API activity since first_seen.
""",
    settings={"learning_days": 14},
    lookback=timedelta(days=60),
    attack=("T1550.001",),
    needs="refresh-token logins with app names (LoginHistory, LoginEvent) or the partner token log",
)
