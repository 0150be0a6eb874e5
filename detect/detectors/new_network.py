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
closed the first visit still sees the second). The country and the network's owner
(`detect/owners.py`: AS, provider, region, Tor) are reported next to the network.

Networks are judged by owner where a block says too little. An app without an allowlist whose
workers have no NAT refresh from a new cloud block every day: when its learning period shows at
least `rotation_blocks` blocks of one provider region (same provider, same place), that region
is one network for the app in that org, and a new block inside it is no news. A new provider, a
provider's new region, a Tor exit, a residential line or a hosting block outside the region is
judged by its block as before. A region the app rotates through only in other orgs is reported
at low (a new org's first days), so `cross_org` does not count it. An app with an allowlist is
judged by its allowlist, unchanged. Attackers rent in the same regions (the 2025 Drift traffic
came from AWS): only this detector's baseline learns the region; reuse, chain rejection, user
agents and the other detectors judge those addresses as any other, and incident linking treats
them as any outside address.

Blind spots: an attacker inside the partner's own egress networks (a compromised worker) or
inside the cloud region a no-NAT app rotates through; app-less logins whose app nothing in the
store reveals; apps neither in `[apps]` nor in the partner's log.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from ..attribution import app_sql, mark_inferred
from ..detector import Context, Detector, Example, Finding
from ..geo import network_of
from ..owners import Owner, owners_of
from ..scope import TRUSTED, trusted, watched_apps
from ..testing import ALLOWED_IP, elf_refresh, partner_call, refresh

EVENT_APP = app_sql("e")
USES = f"""e.grant_type = 'refresh_token' AND e.event_type IN ('login', 'token_exchange')
          AND lower({EVENT_APP}) IN (SELECT app_key FROM watched_app_keys)
          AND e.source_ip IS NOT NULL"""

TRUSTED_SQL = "'" + TRUSTED.replace("'", "''") + "'"  # the partner's networks, as one
ROTATING = " (the app's rotating provider region)"
ROTATING_SQL = "'" + ROTATING.replace("'", "''") + "'"

NEW_NETWORKS_SQL = f"""
WITH nets AS (  -- per distinct address: its block, and its provider region when hosted
    SELECT n.ip, n.network AS block,
           CASE WHEN o.kind = 'hosting' AND o.provider IS NOT NULL AND NOT o.is_tor
                THEN o.provider || ' ' || coalesce(o.region, '(region unknown)') END
               AS owner_region
    FROM ip_networks n LEFT JOIN ip_owners o USING (ip)
),
uses AS (
    SELECT e.event_id, e.org_id, lower({EVENT_APP}) AS app_key, {EVENT_APP} AS app_name,
           e.occurred_at, e.updated_at, e.source_ip, e.user_id, e.country_iso,
           n.block, n.owner_region, t.ip IS NOT NULL AS is_trusted
    FROM events e JOIN nets n ON n.ip = e.source_ip
    LEFT JOIN trusted_ips t ON t.app_key = lower({EVENT_APP}) AND t.ip = e.source_ip
    WHERE {USES}
),
-- Each address an app used in an org, once: the network it counts as is decided here.
addresses AS (
    SELECT org_id, app_key, source_ip, any_value(block) AS block,
           any_value(owner_region) AS owner_region, bool_or(is_trusted) AS is_trusted,
           min(occurred_at) AS ip_first
    FROM uses GROUP BY ALL
),
apps AS (SELECT org_id, app_key, min(ip_first) AS app_first FROM addresses GROUP BY ALL),
-- An app without an allowlist that rotated through many blocks of one provider region while it
-- was learning (workers without NAT): that region is one network for it in that org.
rotating AS (
    SELECT d.org_id, d.app_key, d.owner_region
    FROM addresses d JOIN apps a USING (org_id, app_key)
    WHERE d.owner_region IS NOT NULL AND NOT d.is_trusted AND NOT list_contains(?, d.app_key)
      AND d.ip_first < a.app_first + to_days(CAST(? AS BIGINT))
    GROUP BY ALL
    HAVING count(DISTINCT d.block) >= CAST(? AS BIGINT)
),
keyed AS (
    SELECT d.org_id, d.app_key, d.source_ip, d.owner_region, d.ip_first,
           CASE WHEN d.is_trusted THEN {TRUSTED_SQL}
                WHEN r.owner_region IS NOT NULL THEN d.owner_region || {ROTATING_SQL}
                ELSE d.block END AS network,
           elsewhere.app_key IS NOT NULL AS routine_elsewhere
    FROM addresses d
    LEFT JOIN rotating r USING (org_id, app_key, owner_region)
    LEFT JOIN (SELECT DISTINCT app_key, owner_region FROM rotating) elsewhere
        ON elsewhere.app_key = d.app_key AND elsewhere.owner_region = d.owner_region
),
networks AS (
    SELECT org_id, app_key, network, min(ip_first) AS network_first
    FROM keyed GROUP BY ALL
),
fresh AS (
    SELECT n.* FROM networks n JOIN apps a USING (org_id, app_key)
    WHERE n.network_first >= a.app_first + to_days(CAST(? AS BIGINT))
),
judged AS (  -- the uses of fresh networks only
    SELECT u.* EXCLUDE (block, owner_region, is_trusted), k.network, k.owner_region,
           k.routine_elsewhere, f.network_first
    FROM uses u JOIN keyed k USING (org_id, app_key, source_ip)
    JOIN fresh f USING (org_id, app_key, network)
),
-- An alerted network's uses fall into visits: a use after `quiet_days` of silence starts one.
marked AS (
    SELECT u.*,
        coalesce(u.occurred_at - lag(u.occurred_at) OVER w >= to_days(CAST(? AS BIGINT)), true)
            AS starts_visit
    FROM judged u
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
       bool_and(u.routine_elsewhere) AS routine_elsewhere,
       any_value(u.owner_region) AS owner_region,
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
    mapping = pd.DataFrame(
        {"ip": ips, "network": [network_of(ip) for ip in ips]}, dtype=object
    )  # object: an empty mapping is still text
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
        allowlisted = [
            name.lower() for name, app in ctx.config.apps.items() if app.allowlist is not None
        ]
        learning = ctx.settings["learning_days"]
        rows = ctx.rows(
            NEW_NETWORKS_SQL.format(scope=ctx.scope_sql("u")),
            [allowlisted, learning, ctx.settings["rotation_blocks"], learning,
             ctx.settings["quiet_days"]],
        )  # fmt: skip
    finally:
        ctx.con.unregister("ip_networks")
        ctx.con.unregister("trusted_ips")
        ctx.con.unregister("watched_app_keys")
    geo = ctx.geo()
    owned = owners_of(ctx.con, sorted({ip for row in rows for ip in row["ips"]}))
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
        labels = sorted({Owner(**owned[ip]).label() for ip in row["ips"] if ip in owned})
        routine = bool(row["routine_elsewhere"])
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
                    f"({len(row['event_ids'])} use(s), IPs {', '.join(sorted(row['ips']))}"
                    + (f"; owner {'; '.join(labels[:3])}" if labels else "")
                    + ")"
                    + (
                        f": {row['owner_region']} is a region this app rotates through in "
                        "other orgs, so low."
                        if routine
                        else "."
                    )
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
                    "owner_region": row["owner_region"],
                    "routine_region_elsewhere": routine,
                },
                org_id=row["org_id"],
                app_name=row["app_name"],
                user_id=users[0] if len(users) == 1 else None,
                ips=sorted(row["ips"]),
                severity="low" if routine else None,
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


NO_NAT = "Nimbus Relay"
NO_ALLOWLIST = {NO_NAT: ()}  # configured without an allowlist


def _rotating(days: int) -> list[dict]:
    """Workers without NAT: each day's refreshes from a new AWS us-east-1 block (3.80.0.0/12)."""
    return [
        refresh(f"2026-04-{1 + d:02d}T{h:02d}:00:00", f"3.81.{d}.{10 + h}", app_name=NO_NAT)
        for d in range(days)
        for h in (1, 9, 17)
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
    Example("workers without NAT on a new AWS us-east-1 block every day are one network",
            _rotating(28), apps=NO_ALLOWLIST, expect=0),
    Example("the rotating app on a Hetzner server is a new network, medium",
            [*_rotating(20), refresh("2026-04-21T03:00:00", "95.216.14.20", app_name=NO_NAT)],
            apps=NO_ALLOWLIST, expect=1, severity="medium"),
    Example("the rotating app in another AWS region (eu-west-1) is judged by its block",
            [*_rotating(20), refresh("2026-04-21T03:00:00", "34.240.7.20", app_name=NO_NAT)],
            apps=NO_ALLOWLIST, expect=1, severity="medium"),
    Example("an allowlisted app leaving its allowlist for AWS blocks is judged by block",
            [*_learned(15), refresh("2026-04-16T03:00:00", "3.80.16.20"),
             refresh("2026-04-17T03:00:00", "3.80.17.20")], expect=2, severity="medium"),
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
    settings={"learning_days": 14, "quiet_days": 7, "rotation_blocks": 4},
    lookback=timedelta(days=60),
    attack=("T1550.001",),
    needs="refresh-token logins with app names (LoginHistory, LoginEvent) or the partner token log",
)
