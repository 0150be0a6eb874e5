"""Refresh tokens near or past the 30-day idle timeout, and dormant tokens that wake up.

Why it matters: Salesforce's "Limit Idle Refresh Token TTL to 30 Days" expires a refresh token
nobody used for 30 days. A partner integration whose token goes idle stops working (a heartbeat
refresh is due at `warn_days`); a token idle for `dormant_days` or more that is then used again
means the timeout is not in force for that app, and is the dormant-token theft scenario (a token
copied months ago, used once the owner forgot it).

From OauthToken / OAuth usage snapshots (creation, last use, use count) and from refresh-token
logins: idle >= `warn_days` → info "heartbeat due"; idle >= `expire_days` → low "expired";
a use after >= `dormant_days` of silence → high, naming whether it came from a network the
user had used before.

A token is (org, app, user, creation time): OauthToken's `Id` is always null. Idleness is
measured as of the org's latest token snapshot, never as of "now": when the token source stops
delivering, nothing here ages, because that is a pipeline-health fact (the evidence says how
long the source has been silent), not a token that expired. Each state (heartbeat due,
expired) of a token is one alert, however many snapshots repeat it; a token re-authorized by
the same user (a newer token of the same app) is gone and raises nothing more.

Blind spots: tokens of apps that log neither in OauthToken nor through the OAuth usage
resources; a dormant token used only through the access tokens it already minted; a token
revoked without a replacement still counts as present (snapshots store changes only).
"""

from __future__ import annotations

from datetime import timedelta

from ..detector import Context, Detector, Example, Finding
from ..geo import network_of
from ..scope import ip_label, known_ips
from ..testing import ALLOWED_IP, partner_call, refresh, token_snapshot

SNAPSHOTS_SQL = """
WITH snapshots AS (
    SELECT org_id, app_name, user_id, token_created_at, occurred_at, use_count, event_id,
           ingested_at
    FROM events WHERE event_type = 'token_usage' AND app_name IS NOT NULL
),
-- When the org's token source last delivered a change: the snapshot idleness is measured at.
deliveries AS (SELECT org_id, max(ingested_at) AS read_at FROM snapshots GROUP BY org_id),
tokens AS (
    SELECT org_id, app_name, user_id, token_created_at, max(occurred_at) AS last_used,
           max(use_count) AS use_count, arg_max(event_id, occurred_at) AS event_id,
           max(ingested_at) AS token_read_at
    FROM snapshots GROUP BY ALL
)
SELECT t.org_id, t.app_name, t.user_id, t.token_created_at, t.last_used, t.use_count,
       t.event_id, d.read_at
FROM tokens t JOIN deliveries d USING (org_id)
WHERE NOT EXISTS (  -- re-authorized: a newer token of the same user and app replaced it
    SELECT 1 FROM tokens n
    WHERE n.org_id = t.org_id AND n.app_name = t.app_name
      AND n.user_id IS NOT DISTINCT FROM t.user_id
      AND n.token_created_at > t.token_created_at AND n.token_read_at > t.token_read_at
)
"""

USES = """e.grant_type IN ('refresh_token', 'authorization_code') AND coalesce(e.is_success, false)
      AND e.event_type IN ('login', 'token_exchange')"""

WAKES_SQL = """
WITH touched AS (
    SELECT DISTINCT org_id, app_name, user_id FROM events e
    WHERE {scope} AND e.grant_type = 'refresh_token' AND coalesce(e.is_success, false)
      AND e.event_type IN ('login', 'token_exchange') AND e.user_id IS NOT NULL
),
-- Two uses `dormant_days` apart lie on days as far apart, so only the tokens whose days of use
-- have such a gap are ordered use by use (a day per token is thousands of times fewer rows).
use_days AS (
    SELECT DISTINCT e.org_id, e.app_name, e.user_id, CAST(e.occurred_at AS DATE) AS day
    FROM events e SEMI JOIN touched t
        ON t.org_id = e.org_id AND t.app_name IS NOT DISTINCT FROM e.app_name
       AND t.user_id = e.user_id
    WHERE {uses}
),
gapped AS (
    SELECT DISTINCT org_id, app_name, user_id FROM (
        SELECT *, lag(day) OVER (PARTITION BY org_id, app_name, user_id ORDER BY day) AS prev_day
        FROM use_days)
    WHERE date_diff('day', prev_day, day) >= CAST(? AS BIGINT)
),
uses AS (
    SELECT e.event_id, e.org_id, e.app_name, e.user_id, e.occurred_at, e.updated_at, e.source_ip,
           e.grant_type, e.event_type, lag(e.occurred_at) OVER w AS prev_at,
           lag(e.event_id) OVER w AS prev_event_id
    FROM events e SEMI JOIN gapped t
        ON t.org_id = e.org_id AND t.app_name IS NOT DISTINCT FROM e.app_name
       AND t.user_id = e.user_id
    WHERE {uses}
    WINDOW w AS (PARTITION BY e.org_id, e.app_name, e.user_id ORDER BY e.occurred_at, e.event_id)
)
-- A new authorization code starts a new chain: the refresh after it is measured from it, so a
-- re-authorised integration is never a dormant token woken up.
SELECT * FROM uses e
WHERE grant_type = 'refresh_token' AND prev_at IS NOT NULL
  AND occurred_at - prev_at >= to_days(CAST(? AS BIGINT)) AND {scope}
"""


def find(ctx: Context) -> list[Finding]:
    return _idle(ctx) + _wakes(ctx)


def _idle(ctx: Context) -> list[Finding]:
    s = ctx.settings
    findings = []
    for org_id, app, user, created, last_used, use_count, event_id, read_at in ctx.con.execute(
        SNAPSHOTS_SQL
    ).fetchall():
        as_of = max(read_at, last_used)
        idle_days = (as_of - last_used).total_seconds() / 86400
        if idle_days < s["warn_days"]:
            continue
        expired = idle_days >= s["expire_days"]
        state = "expired" if expired else "heartbeat_due"
        silent_days = (ctx.now - read_at).total_seconds() / 86400
        text = (
            f"was idle {idle_days:.0f} days at the snapshot of {read_at:%Y-%m-%d}: past the "
            f"{s['expire_days']}-day idle timeout, it no longer refreshes (re-authorize, and "
            "check nobody still uses it)"
            if expired
            else f"was idle {idle_days:.0f} days at the snapshot of {read_at:%Y-%m-%d}: "
            f"refresh it before day {s['expire_days']} (heartbeat due) or the integration stops"
        )
        if silent_days >= 2:
            text += (
                f"; the org's token source has delivered nothing new for {silent_days:.0f} "
                "days (check the pipeline)"
            )
        findings.append(
            Finding(
                dedup_key=f"idle|{org_id}|{app}|{user}|{created}|{state}",
                summary=f"{ctx.org_label(org_id)}: {app} refresh token of user {user} {text}.",
                first_seen_at=last_used,
                last_seen_at=as_of,
                event_ids=[event_id],
                evidence={
                    "state": state,
                    "idle_days": round(idle_days, 1),
                    "as_of_snapshot": read_at,
                    "source_silent_days": round(silent_days, 1),
                    "last_used": last_used,
                    "created": created,
                    "use_count": use_count,
                },
                org_id=org_id,
                app_name=app,
                user_id=user,
                severity="low" if expired else "info",
            )
        )
    return findings


def _wakes(ctx: Context) -> list[Finding]:
    s = ctx.settings
    findings = []
    for row in ctx.rows(
        WAKES_SQL.format(scope=ctx.scope_sql(), uses=USES), [s["dormant_days"]] * 2
    ):
        known = {
            network_of(ip)
            for (ip,) in ctx.con.execute(
                "SELECT DISTINCT source_ip FROM events WHERE org_id = ? AND user_id = ? "
                "AND occurred_at < ? AND source_ip IS NOT NULL",
                [row["org_id"], row["user_id"], row["prev_at"] + timedelta(seconds=1)],
            ).fetchall()
        }
        # An unknown egress (a partner log without its NAT address) is no new network.
        new_network = row["source_ip"] is not None and network_of(row["source_ip"]) not in known
        where = ip_label(row["source_ip"], partner=row["event_type"] == "token_exchange")
        days = (row["occurred_at"] - row["prev_at"]).total_seconds() / 86400
        findings.append(
            Finding(
                dedup_key=f"dormant|{row['org_id']}|{row['app_name']}|{row['user_id']}|"
                f"{row['occurred_at']:%Y-%m-%d}",
                summary=(
                    f"{ctx.org_label(row['org_id'])}: {row['app_name']} refresh token of user "
                    f"{row['user_id']} used from {where} after {days:.0f} "
                    "days idle"
                    + (", from a network this user never used" if new_network else "")
                    + f"; the {s['expire_days']}-day idle timeout should have expired it."
                ),
                first_seen_at=row["prev_at"],
                last_seen_at=row["occurred_at"],
                event_ids=[row["prev_event_id"], row["event_id"]],
                evidence={
                    "state": "dormant_reuse",
                    "idle_days": round(days, 1),
                    "ip": where,
                    "new_network": new_network,
                },
                org_id=row["org_id"],
                app_name=row["app_name"],
                user_id=row["user_id"],
                ips=known_ips(row["source_ip"]),
                severity="high",
            )
        )
    return findings


def _active(read: str) -> dict:
    """Another token of the org, used right before each snapshot: the source is delivering."""
    return token_snapshot(read, user_id="0055g00000BusyUAAV", use_count=int(read[8:10]))


EXAMPLES = [
    Example("a token last used 27 days before the latest snapshot: heartbeat due",
            [token_snapshot("2026-11-02T10:00:00"), _active("2026-11-29T09:00:00")],
            expect=1, severity="info"),
    Example("a token last used 40 days before the latest snapshot: expired",
            [token_snapshot("2026-10-20T10:00:00"), _active("2026-11-29T09:00:00")],
            expect=1, severity="low"),
    Example("a token used yesterday is healthy",
            [token_snapshot("2026-11-28T10:00:00"), _active("2026-11-29T09:00:00")], expect=0),
    Example(
        "a refresh token silent for 80 days is used again from a VPS",
        [refresh("2026-09-01T09:00:00", ALLOWED_IP),
         refresh("2026-11-20T03:00:00", "208.68.36.90")],
        expect=1, severity="high",
    ),
    Example(
        "the partner's log, egress unknown (not configured): silent 80 days, used again: high",
        [partner_call("2026-09-01T09:00:00", None), partner_call("2026-11-20T03:00:00", None)],
        expect=1, severity="high",
    ),
    Example(
        "re-authorised after 80 days: a new chain, not a dormant token woken up",
        [refresh("2026-09-01T09:00:00", ALLOWED_IP),
         refresh("2026-11-20T02:59:00", ALLOWED_IP, grant_type="authorization_code",
                 login_sub_type="OAuth Web Server"),
         refresh("2026-11-20T03:00:00", ALLOWED_IP)],
        expect=0,
    ),
    Example(
        "refreshes every few hours never wake a dormant token",
        [refresh(f"2026-11-2{d}T0{h}:00:00", ALLOWED_IP) for d in range(5, 9) for h in (1, 5, 9)],
        expect=0,
    ),
]  # fmt: skip

DETECTOR = Detector(
    id="idle_token",
    title="Refresh token idle, expired, or woken after dormancy",
    severity="low",
    description=__doc__ or "",
    find=find,
    examples=EXAMPLES,
    runbook="""\
1. Heartbeat due: make the integration refresh this token before day 30 (a scheduled refresh
   is enough); acknowledge the alert.
2. Expired: the user must re-authorize the app; if nobody needs the token any more, revoke it.
3. Dormant reuse: treat as theft. Revoke the user's tokens for the app, check where the use came
   from (evidence: ip, new_network), review what the session did, and verify that the app's
   idle TTL ("Limit Idle Refresh Token TTL to 30 Days") is actually enabled.
""",
    settings={"warn_days": 25, "expire_days": 30, "dormant_days": 30},
    lookback=timedelta(days=120),
    attack=("T1550.001",),
    needs="OauthToken / OAuth usage snapshots; refresh-token logins or the partner token log",
)
