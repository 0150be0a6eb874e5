"""Refresh-token use of an app from a network the app never used in that org.

Why it matters: an integration refreshes from a handful of egress networks, the same ones day
after day. Datadog's "previously unseen network for application OAuth token login" is the
closest published rule, and the Drift tokens' move from the vendor's AWS egress to DigitalOcean
and Tor was the cleanest signal of that campaign. This is the primary detector for machine
logins, which impossible travel leaves alone.

It watches the partner's own apps only (`[apps]` and the apps of the partner's token log, see
`detect/scope.py`): other vendors' and Salesforce's own apps refresh from homes and carrier
networks all day. A Login ELF row names no app: it counts under the app `detect/attribution.py`
inferred for it, and the alert says "app inferred" with the reason.

Per (org, app) it learns the networks (/24 for IPv4, /48 for IPv6) of every refresh-token use
and alerts, medium, on the first use from a network first seen at least `learning_days` after
the app's first use in that org; nothing during an app's learning period. An alerted network
that falls silent for `quiet_days` and then returns alerts again (a new alert, so an analyst who
closed the first visit still sees the second). The country is reported next to the network.

Blind spots: an attacker inside the partner's own egress networks (a compromised worker);
app-less logins whose app nothing in the store reveals; apps neither in `[apps]` nor in the
partner's log; an egress that rotates through a whole cloud region (use the allowlist or
`known_egress` for those).
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from ..attribution import app_sql, mark_inferred
from ..detector import Context, Detector, Example, Finding
from ..geo import network_of
from ..scope import TRUSTED, trusted, watched_apps
from ..testing import ALLOWED_IP, elf_refresh, partner_call, refresh

EVENT_APP = app_sql("e")
USES = f"""e.grant_type = 'refresh_token' AND e.event_type IN ('login', 'token_exchange')
          AND lower({EVENT_APP}) IN (SELECT app_key FROM watched_app_keys)
          AND e.source_ip IS NOT NULL"""

TRUSTED_SQL = "'" + TRUSTED.replace("'", "''") + "'"  # the partner's networks, as one

NEW_NETWORKS_SQL = f"""
WITH uses AS (
    SELECT e.event_id, e.org_id, lower({EVENT_APP}) AS app_key, {EVENT_APP} AS app_name,
           e.occurred_at, e.updated_at, e.source_ip, e.user_id, e.country_iso,
           CASE WHEN t.ip IS NULL THEN n.network ELSE {TRUSTED_SQL} END AS network
    FROM events e JOIN ip_networks n ON n.ip = e.source_ip
    LEFT JOIN trusted_ips t ON t.app_key = lower({EVENT_APP}) AND t.ip = e.source_ip
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
),
-- An alerted network's uses fall into visits: a use after `quiet_days` of silence starts one.
marked AS (
    SELECT u.*, f.network_first,
        coalesce(u.occurred_at - lag(u.occurred_at) OVER w >= to_days(CAST(? AS BIGINT)), true)
            AS starts_visit
    FROM uses u JOIN fresh f USING (org_id, app_key, network)
    WINDOW w AS (PARTITION BY u.org_id, u.app_key, u.network ORDER BY u.occurred_at, u.event_id)
),
visits AS (
    SELECT *, max(CASE WHEN starts_visit THEN occurred_at END) OVER (
        PARTITION BY org_id, app_key, network ORDER BY occurred_at, event_id
        ROWS UNBOUNDED PRECEDING) AS visit_start
    FROM marked
)
SELECT u.org_id, u.app_key, any_value(u.app_name) AS app_name, u.network, u.visit_start,
       any_value(u.network_first) AS network_first,
       u.visit_start > any_value(u.network_first) AS is_return,
       min(u.occurred_at) AS first_seen, max(u.occurred_at) AS last_seen,
       list(u.event_id ORDER BY u.occurred_at) AS event_ids,
       list(DISTINCT u.source_ip) AS ips,
       list(DISTINCT u.user_id) FILTER (WHERE u.user_id IS NOT NULL) AS users,
       list(DISTINCT u.country_iso) FILTER (WHERE u.country_iso IS NOT NULL) AS countries,
       bool_or({{scope}}) AS in_scope
FROM visits u
WHERE u.occurred_at < u.visit_start + INTERVAL 1 DAY
GROUP BY u.org_id, u.app_key, u.network, u.visit_start
HAVING bool_or({{scope}})
"""


def find(ctx: Context) -> list[Finding]:
    watched = pd.DataFrame({"app_key": pd.Series(watched_apps(ctx), dtype=object)})
    ctx.con.register("watched_app_keys", watched)
    ips = [
        ip
        for (ip,) in ctx.con.execute(
            f"SELECT DISTINCT e.source_ip FROM events e WHERE {USES}"
        ).fetchall()
    ]
    mapping = pd.DataFrame({"ip": ips, "network": [network_of(ip) for ip in ips]})
    ctx.con.register("ip_networks", mapping)
    # Every address inside an app's allowlist (or known egress) is one network, the partner's:
    # a partner with several allowlisted regions never "moves" between them.
    trusted_ips = pd.DataFrame(
        [(app, ip) for app in watched["app_key"] for ip in ips if trusted(ctx, app, ip)],
        columns=["app_key", "ip"],
        dtype=object,
    )
    ctx.con.register("trusted_ips", trusted_ips)
    try:
        rows = ctx.rows(
            NEW_NETWORKS_SQL.format(scope=ctx.scope_sql("u")),
            [ctx.settings["learning_days"], ctx.settings["quiet_days"]],
        )
    finally:
        ctx.con.unregister("ip_networks")
        ctx.con.unregister("trusted_ips")
        ctx.con.unregister("watched_app_keys")
    geo = ctx.geo()
    findings = []
    for row in rows:
        if all(ctx.known_egress.covers(ip, row["app_name"]) for ip in row["ips"]):
            continue  # an analyst judged these addresses the partner's own egress
        countries = row["countries"] or sorted(
            {p.country_iso for ip in row["ips"] if (p := geo.lookup(ip)) and p.country_iso}
        )
        users = row["users"] or []
        returned = row["is_return"]
        key = f"{row['org_id']}|{row['app_key']}|{row['network']}"
        what = (
            f"returned to {row['network']} after {ctx.settings['quiet_days']}+ quiet days (first "
            f"seen, and alerted, on {row['network_first']:%Y-%m-%d})"
            if returned
            else f"refreshed a token from {row['network']}"
        )
        findings.append(
            Finding(
                # The first visit keeps the original key, so its alert id never changes.
                dedup_key=f"{key}|return|{row['visit_start']:%Y-%m-%dT%H:%M:%S}"
                if returned
                else key,
                summary=(
                    f"{ctx.org_label(row['org_id'])}: {row['app_name']} {what}"
                    + (f" ({', '.join(countries)})" if countries else "")
                    + (", a network it never used in this org," if not returned else "")
                    + f" on {row['first_seen']:%Y-%m-%d} "
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
                    "returned_after_quiet_days": ctx.settings["quiet_days"] if returned else None,
                },
                org_id=row["org_id"],
                app_name=row["app_name"],
                user_id=users[0] if len(users) == 1 else None,
                ips=sorted(row["ips"]),
            )
        )
    return mark_inferred(ctx, findings)


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
    Example("the partner's log with egress unknown (not configured) is no new network",
            [partner_call(f"2026-05-{d:02d}T09:00:00", None if d > 20 else ALLOWED_IP)
             for d in range(1, 29)], expect=0),
    Example("after 15 days from two regions, a refresh from a new network is medium",
            [*_learned(15), refresh("2026-04-16T03:00:00", "198.51.100.77")],
            expect=1, severity="medium"),
    Example("two allowlisted regions used alternately raise nothing",
            _learned(20), expect=0),
    Example("a new network inside the learning period is learned, not alerted",
            [*_learned(3), refresh("2026-04-03T03:00:00", "198.51.100.77")], expect=0),
    Example("an alerted network back after three quiet weeks alerts again",
            [*_learned(15), refresh("2026-04-16T03:00:00", "198.51.100.77"),
             refresh("2026-05-08T03:00:00", "198.51.100.78")], expect=2, severity="medium"),
    Example("an alerted network used daily is one alert, not one a day",
            [*_learned(15), *(refresh(f"2026-04-{d}T03:00:00", "198.51.100.77")
                              for d in range(16, 29))], expect=1),
    Example("a Login ELF refresh from a new network counts under its inferred app",
            [*_learned(15), elf_refresh("2026-04-16T03:00:00", "198.51.100.77")],
            expect=1, severity="medium"),
    Example("another vendor's app moving networks is not the partner's to judge",
            [*(refresh(f"2026-04-{d:02d}T09:00:00", "192.0.2.1", app_name="Other App")
               for d in range(1, 16)),
             refresh("2026-04-16T09:00:00", "198.51.100.77", app_name="Other App")], expect=0),
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
4. "App inferred" in the summary: the uses came from the Login ELF, which names no app;
   `evidence.app_inferred` says what tied them to this app. Confirm before revoking.
""",
    settings={"learning_days": 14, "quiet_days": 7},
    lookback=timedelta(days=60),
    attack=("T1550.001",),
    needs="refresh-token logins with app names (LoginHistory, LoginEvent) or the partner token log",
)
