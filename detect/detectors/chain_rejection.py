"""A worker's newest refresh token rejected although its chain was intact: someone else used it.

Why it matters: with Refresh Token Rotation each refresh token is single-use, and Salesforce
answers the reuse of a rotated-out token by revoking the whole family (RFC 9700 §4.14.2). When a
thief refreshes with a copy of the partner's current token, the thief gets the next generation
and the partner's worker, presenting the token it was legitimately issued, gets
`invalid_grant`. The partner's own log is the best evidence anyone has of this: the chain is
intact (every token presented once, by the partner), yet its newest link is refused.

From the partner's token log: a refresh whose token was issued by one of the partner's own
successful calls, never presented before, and rejected with `invalid_grant`. It then rules out,
in order, what explains such a rejection besides theft:

- one of the partner's own reuses in the same chain (a race revokes the family, and this
  failure is its consequence): see `refresh_token_reuse`;
- the idle timeout: the token sat unused `idle_days` (30) or more;
- the per-user-per-app cap of `token_cap` (5) tokens: as many newer authorizations revoke it;
- Salesforce's error text naming another cause (inactive user, IP restriction, app not
  approved), when the partner logged it;
- where Salesforce's logs show them between issue and rejection: the user frozen or
  deactivated (login status), a password reset (UI Password Reset logins), an admin or
  Salesforce revoking tokens (user-less or Salesforce-internal Logout rows), and Setup Audit
  Trail entries deactivating, freezing or resetting the user, revoking or uninstalling the app,
  or changing its refresh token policy.

Explained rejections are info (the evidence says by what). What remains is high. Critical when
Salesforce's logs show a successful refresh of that user and app from outside the app's
allowlist between issue and rejection (the thief's side, app inferred where the Login ELF
carries none), whatever else explains the rejection: Salesforce freezes a user whose tokens
refresh from anonymizers, and that freeze does not excuse the refresh behind it. Evidence: the
chain, both sides, the gap, every check and its verdict.

A partner log without its NAT address (egress unknown) is judged the same: the chain needs no
address. Blind spots: tokens issued before the partner's log begins (no issuing call); theft whose
rejection the partner does not log; a thief inside the partner's allowlist (high, never
critical); revocations Salesforce logs nowhere we read (an org policy changed outside Setup
Audit Trail); a revocation that happened to coincide with a theft hides the theft (info).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from ..attribution import app_sql, inferred_sql
from ..detector import Context, Detector, Example, Finding
from ..scope import ip_label, known_ips, trusted, watched_apps
from ..testing import ALLOWED_IP, HUMAN, USER, event, partner_call, refresh

REJECTED_SQL = """
SELECT r.event_id, r.org_id, r.app_name, r.user_id, r.occurred_at, r.source_ip, r.worker,
       r.token_fp, r.error_description,
       i.event_id AS issued_event_id, i.occurred_at AS issued_at, i.source_ip AS issued_ip,
       i.worker AS issued_worker
FROM events r
JOIN events i ON i.org_id = r.org_id AND i.event_type = 'token_exchange' AND i.is_success
             AND i.new_token_fp = r.token_fp AND i.occurred_at <= r.occurred_at
WHERE r.event_type = 'token_exchange' AND r.grant_type = 'refresh_token'
  AND r.status = 'invalid_grant' AND r.token_fp IS NOT NULL
  -- Re-judged when Salesforce's side of the gap arrives late (hourly ELF lands hours after).
  AND ({scope} OR EXISTS (
      SELECT 1 FROM events s
      WHERE s.org_id = r.org_id AND s.user_id = r.user_id AND s.event_type = 'login'
        AND s.occurred_at BETWEEN i.occurred_at AND r.occurred_at + INTERVAL 5 MINUTE
        AND {late_scope}))
  AND list_contains(?, lower(r.app_name))
  AND NOT EXISTS (SELECT 1 FROM events p
                  WHERE p.org_id = r.org_id AND p.event_type = 'token_exchange'
                    AND p.token_fp = r.token_fp AND p.occurred_at < r.occurred_at)
ORDER BY r.occurred_at, r.event_id
"""

CALLS_SQL = """
SELECT event_id, occurred_at, grant_type, token_fp, new_token_fp, source_ip, worker, status,
       is_success
FROM events
WHERE org_id = ? AND event_type = 'token_exchange' AND lower(app_name) = lower(?)
  AND user_id IS NOT DISTINCT FROM ? AND occurred_at <= ? AND occurred_at >= ?
ORDER BY occurred_at, event_id
"""

SALESFORCE_SQL = f"""
SELECT e.event_id, e.occurred_at, e.source_ip, e.is_success, e.status, e.grant_type,
       e.login_sub_type, {app_sql("e")} AS app, {inferred_sql("e")} AS inferred,
       e.app_inferred_reason
FROM events e
WHERE e.org_id = ? AND e.user_id = ? AND e.event_type = 'login'
  AND e.occurred_at >= ? AND e.occurred_at <= ?
ORDER BY e.occurred_at, e.event_id
"""

LOGOUTS_SQL = """
SELECT event_id, occurred_at, user_id FROM events
WHERE org_id = ? AND event_type = 'logout'
  AND (user_id IS NULL OR (user_id = ? AND source_ip IS NULL))
  AND occurred_at >= ? AND occurred_at <= ?
"""

AUDIT_SQL = """
SELECT occurred_at, lower(coalesce(payload->>'Action', payload->>'action', '')) AS action,
       coalesce(payload->>'Display', payload->>'display', '') AS display
FROM raw_records
WHERE org_id = ? AND source_id = 'soql:SetupAuditTrail' AND occurred_at >= ? AND occurred_at <= ?
"""

# Salesforce's answer to a revoked family (and to an expired token): anything else names a cause.
NEUTRAL_ERRORS = {"", "expired access/refresh token", "token validity expired"}
STATUS_USER_STATE = ("User is frozen", "User is inactive", "Failed: User is inactive")
USER_AUDIT_ACTIONS = ("deactivateduser", "frozeuser", "freezeuser", "resetpassword")
APP_AUDIT_WORDS = ("revoke", "uninstalled", "refresh token", "blocked")
SLACK = timedelta(minutes=5)  # Salesforce logs the rejection itself within moments


def find(ctx: Context) -> list[Finding]:
    findings = []
    sql = REJECTED_SQL.format(scope=ctx.scope_sql("r"), late_scope=ctx.scope_sql("s"))
    for rejected in ctx.rows(sql, [watched_apps(ctx)]):
        findings.append(_judge(ctx, rejected))
    return findings


def _chain(calls: list[dict], tip: str) -> list[dict]:
    """The calls that built the chain ending in `tip`, oldest first, back to its authorization
    (or to the first token the log shows)."""
    issuer = {c["new_token_fp"]: c for c in calls if c["is_success"] and c["new_token_fp"]}
    chain, token, seen = [], tip, set()
    while token in issuer and token not in seen:
        seen.add(token)
        call = issuer[token]
        chain.append(call)
        if call["grant_type"] != "refresh_token" or not call["token_fp"]:
            break
        token = call["token_fp"]
    return chain[::-1]


def _judge(ctx: Context, r: dict) -> Finding:
    s = ctx.settings
    org, app, user, at, issued_at = (
        r["org_id"], r["app_name"], r["user_id"], r["occurred_at"], r["issued_at"],
    )  # fmt: skip
    calls = ctx.rows(CALLS_SQL, [org, app, user, at, issued_at - timedelta(days=s["chain_days"])])
    earlier = [c for c in calls if c["occurred_at"] < at]
    chain = _chain(earlier, r["token_fp"])
    presented = Counter(c["token_fp"] for c in earlier if c["token_fp"])
    chain_tokens = {c["token_fp"] for c in chain if c["token_fp"]}
    chain_start = chain[0]["occurred_at"] if chain else issued_at
    gap_days = (at - issued_at).total_seconds() / 86400
    salesforce = ctx.rows(SALESFORCE_SQL, [org, user, issued_at, at + SLACK]) if user else []

    checks: list[dict[str, Any]] = []

    def check(name: str, explains: bool, detail: str) -> None:
        checks.append({"check": name, "explains": explains, "detail": detail})

    reused = sorted(fp for fp in chain_tokens if presented[fp] > 1)
    check("partner_reuse", bool(reused),
          f"the partner presented {len(reused)} token(s) of this chain twice; Salesforce revoked "
          "the family, and this rejection is the consequence" if reused
          else "every token of the chain was presented once")  # fmt: skip
    check("idle_timeout", gap_days >= s["idle_days"],
          f"the token waited {gap_days:.1f} days after it was issued (timeout "
          f"{s['idle_days']} days)")  # fmt: skip
    newer = [c for c in earlier if c["grant_type"] == "authorization_code" and c["is_success"]
             and c["occurred_at"] > chain_start]  # fmt: skip
    check("token_cap", len(newer) >= s["token_cap"],
          f"{len(newer)} newer authorization(s) of the user for the app (cap "
          f"{s['token_cap']} tokens)")  # fmt: skip
    error = (r["error_description"] or "").strip()
    check(
        "salesforce_reason",
        error.lower() not in NEUTRAL_ERRORS,
        f"Salesforce answered {error!r}" if error else "no error text logged",
    )
    frozen = [e for e in salesforce if e["status"] in STATUS_USER_STATE]
    check("user_frozen_or_inactive", bool(frozen),
          f"{len(frozen)} login(s) refused as {frozen[0]['status']!r}" if frozen
          else "no login refused for a frozen or inactive user")  # fmt: skip
    resets = [e for e in salesforce if e["login_sub_type"] == "UI Password Reset"]
    check("password_reset", bool(resets),
          f"password reset at {resets[0]['occurred_at']:%Y-%m-%d %H:%M}" if resets
          else "no password reset logged")  # fmt: skip
    logouts = ctx.con.execute(LOGOUTS_SQL, [org, user, issued_at, at + SLACK]).fetchall()
    check("revocation_logout", bool(logouts),
          f"{len(logouts)} Salesforce-side Logout row(s) (token revocation)" if logouts
          else "no revocation in the Logout log")  # fmt: skip
    audit = _audit(ctx, org, app, user, issued_at, at + SLACK)
    check(
        "setup_audit_trail",
        bool(audit),
        "; ".join(audit[:3]) if audit else "no Setup Audit Trail entry explains it",
    )

    thief = [
        e for e in salesforce
        if e["is_success"] and e["grant_type"] == "refresh_token" and e["occurred_at"] < at
        and e["app"] and e["app"].lower() == app.lower() and e["source_ip"]
        and not trusted(ctx, app, e["source_ip"])
        and e["source_ip"] not in {c["source_ip"] for c in calls}
    ]  # fmt: skip
    failures = [
        e for e in salesforce if e["is_success"] is False and e["occurred_at"] >= at - SLACK
    ]
    explained = [c["check"] for c in checks if c["explains"]]
    if thief:
        # A foreign refresh in the gap is theft whatever else happened: Salesforce's own
        # containment freezes a user whose tokens refresh from anonymizers, and that freeze
        # must not excuse the refresh that caused it.
        severity = "critical"
        verdict = (
            f"someone else used it: Salesforce logged {len(thief)} successful refresh(es) of "
            f"this user from {', '.join(sorted({e['source_ip'] for e in thief}))}, outside the "
            "allowlist, in between" + (f" (also seen: {', '.join(explained)})" if explained else "")
        )
    elif explained:
        severity, verdict = "info", f"explained by {', '.join(explained)}"
    else:
        severity, verdict = "high", "nothing explains it: someone else likely used the token"
    inferred = sorted({e["app_inferred_reason"] for e in thief if e["inferred"]})
    return Finding(
        dedup_key=f"chain|{org}|{r['token_fp']}",
        summary=(
            f"{ctx.org_label(org)}: {app} worker {r['worker']} presented the newest refresh "
            f"token {r['token_fp'][:12]}… of user {user} {gap_days * 24:.1f} h after it was "
            f"issued and got invalid_grant with an intact chain; {verdict}"
            + (f" (app of the foreign refreshes inferred: {inferred[0]})" if inferred else "")
            + "."
        ),
        first_seen_at=min([issued_at, *(e["occurred_at"] for e in thief)]),
        last_seen_at=at,
        event_ids=[
            r["issued_event_id"],
            r["event_id"],
            *(e["event_id"] for e in thief),
            *(e["event_id"] for e in failures),
        ],
        evidence={
            "classification": "explained" if explained and not thief else "chain_intact_rejection",
            "token_fp": r["token_fp"],
            "gap_s": round((at - issued_at).total_seconds()),
            "chain": [_link(c) for c in chain[-s["chain_links"] :]],
            "chain_length": len(chain),
            "partner_side": {
                "issued": {
                    "at": issued_at,
                    "ip": ip_label(r["issued_ip"]),
                    "worker": r["issued_worker"],
                },
                "rejected": {
                    "at": at,
                    "ip": ip_label(r["source_ip"]),
                    "worker": r["worker"],
                    "error_description": r["error_description"],
                },
            },
            "salesforce_side": {
                "foreign_successes": [_side(e) for e in thief],
                "failures": [_side(e) for e in failures],
                "app_inferred": inferred,
            },
            "ruled_out": checks,
        },
        org_id=org,
        app_name=app,
        user_id=user,
        ips=known_ips(r["source_ip"], r["issued_ip"], *(e["source_ip"] for e in thief)),
        severity=severity,  # type: ignore[arg-type]
    )


def _audit(
    ctx: Context, org: str, app: str, user: str | None, start: datetime, end: datetime
) -> list[str]:
    """Setup Audit Trail entries (kept raw) that revoke this user's or this app's tokens."""
    user15 = (user or "")[:15]
    found = []
    for at, action, display in ctx.con.execute(AUDIT_SQL, [org, start, end]).fetchall():
        text = display.lower()
        about_user = bool(user15) and user15.lower() in text
        about_app = app.lower() in text
        if (about_user and (action in USER_AUDIT_ACTIONS or "password" in action)) or (
            about_app and any(word in f"{action} {text}" for word in APP_AUDIT_WORDS)
        ):
            found.append(f"{at:%Y-%m-%d %H:%M} {action}: {display[:120]}")
    return found


def _link(call: dict) -> dict:
    return {
        "at": call["occurred_at"],
        "grant": call["grant_type"],
        "presented": (call["token_fp"] or "")[:12],
        "issued": (call["new_token_fp"] or "")[:12],
        "ip": ip_label(call["source_ip"]),
        "worker": call["worker"],
    }


def _side(e: dict) -> dict:
    return {"at": e["occurred_at"], "ip": e["source_ip"], "status": e["status"]}


def _call(at: str, fp: str | None, new: str | None, ip: str = ALLOWED_IP, **fields) -> dict:
    return partner_call(at, ip, token_fp=fp, new_token_fp=new, worker="sync-1", **fields)


def _rejected(at: str, fp: str, **fields: Any) -> dict:
    return _call(at, fp, None, is_success=False, status="invalid_grant",
                 error_description="expired access/refresh token", **fields)  # fmt: skip


_CHAIN = [
    _call("2026-05-01T08:00:00", None, "g1", grant="authorization_code"),
    _call("2026-05-01T08:30:00", "g1", "g2"),
    _call("2026-05-01T09:00:00", "g2", "g3"),
]
_UNKNOWN = [{**call, "source_ip": None} for call in _CHAIN]  # a helper with no NAT address set

EXAMPLES = [
    Example("the newest token of an intact chain is refused: high",
            [*_CHAIN, _rejected("2026-05-01T09:30:00", "g3")], expect=1, severity="high"),
    Example("...and Salesforce logged a refresh from a VPS in between: critical",
            [*_CHAIN, refresh("2026-05-01T09:10:00", "208.68.36.90"),
             _rejected("2026-05-01T09:30:00", "g3")], expect=1, severity="critical"),
    Example("the partner's own race revoked the family: explained, info",
            [*_CHAIN, _call("2026-05-01T09:00:00.150", "g2", "g3b"),
             _rejected("2026-05-01T09:30:00", "g3")], expect=1, severity="info"),
    Example("a token that waited 40 days expired: info",
            [*_CHAIN, _rejected("2026-06-10T09:30:00", "g3")], expect=1, severity="info"),
    Example("the user was frozen in between: info",
            [*_CHAIN, event("2026-05-01T09:20:00", user_id=USER, grant_type="refresh_token",
                            is_success=False, status="User is frozen"),
             _rejected("2026-05-01T09:30:00", "g3")], expect=1, severity="info"),
    Example("a thief's Tor refresh froze the user (Salesforce's containment): still critical",
            [*_CHAIN, refresh("2026-05-01T09:10:00", "198.51.100.66"),
             event("2026-05-01T09:20:00", user_id=USER, grant_type="refresh_token",
                   is_success=False, status="User is frozen"),
             _rejected("2026-05-01T09:30:00", "g3")], expect=1, severity="critical"),
    Example("a clean chain raises nothing",
            [*_CHAIN, _call("2026-05-01T09:30:00", "g3", "g4")], expect=0),
    Example("a token presented before is a reuse, not a chain-intact rejection",
            [*_CHAIN, _call("2026-05-01T09:30:00", "g3", "g4"),
             _rejected("2026-05-01T09:31:00", "g3")], expect=0),
    Example("egress unknown (not configured): the chain is still judged, high",
            [*_UNKNOWN, _rejected("2026-05-01T09:30:00", "g3", ip=None)],
            expect=1, severity="high"),
    Example("egress unknown: a clean chain raises nothing",
            [*_UNKNOWN, _call("2026-05-01T09:30:00", "g3", "g4", ip=None)], expect=0),
    Example("another vendor's app is not the partner's to judge",
            [event("2026-05-01T09:00:00", user_id=HUMAN, app_name="Other App",
                   event_type="login", grant_type="refresh_token")], expect=0),
]  # fmt: skip

DETECTOR = Detector(
    id="chain_rejection",
    title="Newest refresh token refused with an intact chain",
    severity="high",
    description=__doc__ or "",
    find=find,
    examples=EXAMPLES,
    runbook="""\
1. Read `ruled_out` in the evidence: info alerts name what explains the rejection (a race of
   the partner's own workers, the idle timeout, the token cap, a frozen user, a password reset,
   an admin revocation). Fix that cause and resolve the alert.
2. High or critical: treat the user's tokens for the app as stolen. Revoke them
   (DELETE /apps/oauth/usage/{appId}/{userId}/tokens), re-authorize the user, and rotate the
   consumer secret if more than one org shows the same.
3. Critical: the foreign refreshes in `salesforce_side` are the thief. Look the IPs up, search
   every org for them, and pull the user's API activity from those IPs (ApiTotalUsage, RestApi,
   BulkApi2); report to security@salesforce.com if data left.
4. Find where the partner's token store leaked (a worker, a backup, a log line with the token)
   before re-authorizing, or the new chain goes the same way.
""",
    settings={"idle_days": 30, "token_cap": 5, "chain_days": 120, "chain_links": 10},
    lookback=timedelta(days=120),
    attack=("T1550.001", "T1528"),  # use of stolen application access tokens
    needs="the partner token log (token_fp, new_token_fp, outcome); Salesforce logins and "
    "Logout rows; Setup Audit Trail where imported",
)
