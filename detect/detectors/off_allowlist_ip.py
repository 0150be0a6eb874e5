"""Refresh-token or authorization-code use of an app from an IP outside the app's allowlist.

Why it matters: Salesforce's Refresh Token IP Allowlist blocks the web-server and refresh-token
flows from outside the listed ranges. A *successful* use from outside means the control is not
in force for that org (not enforced, ranges drifted, or the app is not the one configured) and
someone off the partner's egress holds a live token: the Drift and Gainsight pattern. A
*failed* use means the allowlist worked, but a token or code is in the wrong hands.

It reads login events from Salesforce (LoginHistory, LoginEvent, Login ELF) and the partner's
own token-exchange log, for apps with `allowlist` configured (an `[apps]` entry without one is
not judged here). A Login ELF row names no app: it counts under the app `detect/attribution.py`
inferred for it, and the alert says "app inferred" with the reason and confidence; when the only
evidence is the user agent (confidence below `min_confidence`), a success is medium, not high.
One alert per org × app × IP × UTC day, not one per event.

Blind spots: apps without a configured allowlist; app-less logins whose app nothing in the store
reveals (no session API calls naming it, a user with tokens for several apps, no distinctive
user agent); JWT-bearer and client-credentials flows, which carry no refresh token and which
Salesforce does not subject to this allowlist; rows whose source IP is hidden as
"Salesforce.com IP".
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from ingest.netlist import parse_ip

from ..attribution import app_sql, inferred_sql
from ..detector import Context, Detector, Example, Finding
from ..testing import ALLOWED_IP, APP, HUMAN, elf_refresh, partner_call, refresh, web_login

EVENT_APP = app_sql("e")
INFERRED = inferred_sql("e")

CANDIDATES_SQL = f"""
SELECT DISTINCT lower({EVENT_APP}) AS app_key, e.source_ip
FROM events e
WHERE {{scope}} AND e.event_type IN ('login', 'token_exchange')
  AND list_contains(?, e.grant_type) AND e.source_ip IS NOT NULL
  AND list_contains(?, lower({EVENT_APP}))
"""

GROUPS_SQL = f"""
WITH offenders AS (SELECT * FROM off_allowlist_pairs),
touched AS (
    SELECT DISTINCT e.org_id, lower({EVENT_APP}) AS app_key, e.source_ip,
           CAST(e.occurred_at AS DATE) AS day
    FROM events e JOIN offenders o ON lower({EVENT_APP}) = o.app_key AND e.source_ip = o.source_ip
    WHERE {{scope}} AND e.event_type IN ('login', 'token_exchange')
      AND list_contains(?, e.grant_type)
)
SELECT e.org_id, t.app_key, any_value({EVENT_APP}) AS app_name, e.source_ip, t.day,
       min(e.occurred_at) AS first_seen, max(e.occurred_at) AS last_seen,
       list(e.event_id ORDER BY e.occurred_at, e.event_id) AS event_ids,
       count(*) FILTER (WHERE e.event_type = 'login') AS salesforce_uses,
       count(*) FILTER (WHERE e.event_type = 'token_exchange') AS partner_calls,
       count(*) FILTER (WHERE e.is_success) AS successes,
       count(*) FILTER (WHERE NOT coalesce(e.is_success, false)) AS failures,
       count(*) FILTER (WHERE e.is_success AND e.event_type = 'login') AS salesforce_successes,
       count(*) FILTER (WHERE NOT coalesce(e.is_success, false) AND e.event_type = 'login')
           AS salesforce_failures,
       list(DISTINCT e.user_id) FILTER (WHERE e.user_id IS NOT NULL) AS users,
       list(DISTINCT e.grant_type) AS grants,
       list(DISTINCT e.status) FILTER (WHERE e.status IS NOT NULL) AS statuses,
       flatten(list(e.sources)) AS sources,
       count(*) FILTER (WHERE {INFERRED}) AS inferred_uses,
       count(*) FILTER (WHERE {INFERRED} AND e.is_success) AS inferred_successes,
       list(DISTINCT e.app_inferred_reason) FILTER (WHERE {INFERRED}) AS inferred_reasons,
       min(e.app_confidence) FILTER (WHERE {INFERRED}) AS inferred_confidence
FROM events e
JOIN touched t ON e.org_id = t.org_id AND lower({EVENT_APP}) = t.app_key
              AND e.source_ip = t.source_ip AND CAST(e.occurred_at AS DATE) = t.day
WHERE e.event_type IN ('login', 'token_exchange') AND list_contains(?, e.grant_type)
GROUP BY e.org_id, t.app_key, e.source_ip, t.day
ORDER BY first_seen
"""


def find(ctx: Context) -> list[Finding]:
    allowlists = {
        name.lower(): app.allowlist
        for name, app in ctx.config.apps.items()
        if app.allowlist is not None
    }
    if not allowlists:
        return []
    grants = list(ctx.settings["grant_types"])
    pairs = ctx.con.execute(
        CANDIDATES_SQL.format(scope=ctx.scope_sql()), [grants, list(allowlists)]
    ).fetchall()
    offenders = [
        (app_key, ip)
        for app_key, ip in pairs
        if (address := parse_ip(ip)) is not None
        and address not in allowlists[app_key]
        and not ctx.known_egress.covers(ip, app_key)  # judged the partner's by an analyst
    ]
    if not offenders:
        return []
    ctx.con.register(
        "off_allowlist_pairs",
        pd.DataFrame(offenders, columns=["app_key", "source_ip"]),
    )
    try:
        groups = ctx.rows(GROUPS_SQL.format(scope=ctx.scope_sql()), [grants, grants])
    finally:
        ctx.con.unregister("off_allowlist_pairs")
    findings = []
    for group in groups:
        if group["successes"] or ctx.settings["include_failures"]:
            findings.append(_finding(ctx, allowlists[group["app_key"]].entries, group))
    return findings


def _inferred(ctx: Context, group: dict) -> tuple[str, dict | None, bool]:
    """Summary text, evidence and weakness of the app inference behind a group, if any."""
    if not group["inferred_uses"]:
        return "", None, False
    reasons = sorted(group["inferred_reasons"])
    confidence = group["inferred_confidence"]
    # Only a user agent tied the use to the app, and nothing logged named it: not proof enough
    # for a high alert on its own.
    weak = (
        confidence < ctx.settings["min_confidence"]
        and group["successes"] == group["inferred_successes"]
    )
    text = (
        f" (app inferred for {group['inferred_uses']} Login ELF use(s), confidence "
        f"{confidence:.2f}: {reasons[0]})"
    )
    evidence = {"events": group["inferred_uses"], "reasons": reasons, "confidence": confidence}
    return text, evidence, weak


def _finding(ctx: Context, entries: tuple[str, ...], group: dict) -> Finding:
    org_id, app, ip, day = group["org_id"], group["app_name"], group["source_ip"], group["day"]
    users = group["users"]
    # Salesforce's own verdict when it logged the uses; the partner's log repeats the same calls.
    if group["salesforce_uses"]:
        successes, failures = group["salesforce_successes"], group["salesforce_failures"]
    else:
        successes, failures = group["successes"], group["failures"]
    grant_text = " and ".join(g.replace("_", "-") for g in sorted(group["grants"]))
    seen = []
    if group["salesforce_uses"]:
        seen.append(f"{group['salesforce_uses']} {grant_text} use(s) in Salesforce's logs")
    if group["partner_calls"]:
        seen.append(f"{group['partner_calls']} call(s) in the partner's token log")
    outcome = (
        f"{successes} succeeded" + (f", {failures} were blocked" if failures else "")
        if successes
        else f"all {failures} were blocked (the allowlist held)"
    )
    who = f"user {users[0]}" if len(users) == 1 else f"{len(users)} users"
    inferred_text, inferred, weak = _inferred(ctx, group)
    severity = "high" if group["successes"] and not weak else "medium"
    return Finding(
        dedup_key=f"{org_id}|{app.lower()}|{ip}|{day}",
        summary=(
            f"{ctx.org_label(org_id)}: {app}{inferred_text} from {ip} (outside its allowlist) "
            f"on {day}, {' and '.join(seen)}, by {who}; {outcome}."
        ),
        first_seen_at=group["first_seen"],
        last_seen_at=group["last_seen"],
        event_ids=group["event_ids"],
        evidence={
            "ip": ip,
            "day": str(day),
            "allowlist": list(entries),
            "successes": successes,
            "failures": failures,
            "grant_types": sorted(group["grants"]),
            "users": sorted(users),
            "statuses": sorted(group["statuses"]),
            "salesforce_uses": group["salesforce_uses"],
            "partner_calls": group["partner_calls"],
            "sources": dict(Counter(group["sources"])),
            "app_inferred": inferred,
        },
        org_id=org_id,
        app_name=app,
        user_id=users[0] if len(users) == 1 else None,
        ips=[ip],
        severity=severity,
    )


EXAMPLES = [
    Example(
        "the partner's log with egress unknown (not configured) is never off the list",
        [partner_call("2026-05-01T09:00:00", None)],
        expect=0,
    ),
    Example(
        "refresh from an unknown VPS is a high alert",
        [
            refresh("2026-05-01T09:00:00", ALLOWED_IP),
            refresh("2026-05-01T09:30:00", "208.68.36.90"),
        ],
        expect=1,
        severity="high",
    ),
    Example(
        "refreshes from inside the allowlist (v4 and v6) raise nothing",
        [
            refresh("2026-05-01T09:00:00", ALLOWED_IP),
            refresh("2026-05-01T09:20:00", "2001:db8:10:0:1::5"),
        ],
        expect=0,
    ),
    Example(
        "three refreshes from one off-list IP on one day are one alert",
        [refresh(f"2026-05-01T{h:02d}:00:00", "198.51.100.9") for h in (1, 2, 3)],
        expect=1,
    ),
    Example(
        "attempts the allowlist blocked are a medium alert",
        [
            refresh(
                "2026-05-01T09:00:00",
                "185.220.101.33",
                is_success=False,
                status="Failed: IP Address Not Allowed",
            )
        ],
        expect=1,
        severity="medium",
    ),
    Example(
        "a web-server login from outside counts; a JWT login does not",
        [
            web_login("2026-05-01T10:00:00", "198.51.100.20"),
            refresh(
                "2026-05-01T10:05:00",
                "198.51.100.21",
                grant_type="oauth_unspecified",
                user_id=HUMAN,
            ),
        ],
        expect=1,
    ),
    Example(
        "the partner's own log of a refresh from off-list egress",
        [partner_call("2026-05-01T11:00:00", "192.0.2.200")],
        expect=1,
    ),
    Example(
        "a Login ELF refresh from a VPS, app inferred from its owner's tokens: high, inferred",
        [elf_refresh("2026-05-01T09:00:00", "198.51.100.61")],
        expect=1,
        severity="high",
    ),
    Example(
        "...tied to the app by its user agent only: medium",
        [elf_refresh("2026-05-01T09:00:00", "198.51.100.61", reason="user agent", confidence=0.5)],
        expect=1,
        severity="medium",
    ),
    Example(
        "a Login ELF refresh nothing ties to an app is not judged",
        [refresh("2026-05-01T09:00:00", "198.51.100.61", app_name=None, sources=["elf:Login"])],
        expect=0,
    ),
    Example(
        "apps without an allowlist are not judged",
        [refresh("2026-05-01T09:00:00", "208.68.36.90", app_name="Other App")],
        expect=0,
    ),
    Example(
        "an app named in a different case is still the configured app",
        [refresh("2026-05-01T09:00:00", "208.68.36.90", app_name=APP.upper())],
        expect=1,
    ),
]

DETECTOR = Detector(
    id="off_allowlist_ip",
    title="Refresh token or code used from outside the app's IP allowlist",
    severity="high",
    description=__doc__ or "",
    find=find,
    examples=EXAMPLES,
    runbook="""\
1. Open the evidence: which IP, how many uses succeeded, which users, which sources saw it.
2. Check whether the IP belongs to the partner: new egress, a cloud region or NAT gateway not
   yet in `apps.<app>.allowlist`. If so, add it here and in the app's Refresh Token IP
   Allowlist in Salesforce, and mark the alert false_positive.
3. If any use succeeded from an unknown IP: the allowlist is not enforced in this org. Revoke
   the user's tokens for the app (Setup > Connected Apps OAuth Usage, or
   DELETE /apps/oauth/usage/{appId}/tokens), then turn on Enforce Refresh Token IP Allowlist.
4. Look up the IP (ASN, hosting provider, Tor exit) and search the other orgs for it
   (`tokensentry alerts --format json` and filter on ips).
5. "App inferred" in the summary: the Login ELF names no app, and `evidence.app_inferred` says
   what tied the use to this app (the session's API calls, the user's tokens, the user agent).
   Confirm it in the user's OAuth usage (Setup > Connected Apps OAuth Usage) before revoking.
6. Review the API activity of the user from that IP (ApiTotalUsage / RestApi / BulkApi2 ELF)
   for record exports; report to security@salesforce.com if data left.
""",
    settings={
        "grant_types": ["refresh_token", "authorization_code"],
        "include_failures": True,
        "min_confidence": 0.6,  # below: an inferred app alone makes a success medium, not high
    },
    attack=("T1550.001",),  # Use Alternate Authentication Material: Application Access Token
    needs="login events with an app name (LoginHistory, LoginEvent) or the partner token log",
)
