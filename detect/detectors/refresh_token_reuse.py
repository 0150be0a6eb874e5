"""A refresh token presented more than once: a rotation race, or a stolen token.

Why it matters: with Refresh Token Rotation every refresh token is single-use, and Salesforce
answers any reuse by revoking the whole token family. A reuse is either the partner's own
workers racing (two processes refreshing at once: fix with a single-flight refresh) or a copy
of the token in someone else's hands (RFC 9700 §4.14.2). The partner's token log names the
token (`token_fp`), so a reuse is classified:

- race: the second presentation within `race_window_s` of the first, from the same egress
  network (/24, /48), and the token is the immediately previous generation: low, medium when
  one user races `race_repeat` times in the scan;
- theft: another network, later than the window, or an older generation: high, critical when
  the other presentation came from outside the app's allowlist.

Salesforce's own logs carry no token id, so from them alone it flags "possible reuse": two
successful refreshes of one (org, app, user) from different networks within `window_s` while
that user had refreshed from one network only, followed by failed refreshes (the family
revoked): medium, with the rows as evidence.

Blind spots: reuse of tokens the partner does not log; from Salesforce logs, a thief on the same
network as the integration, or a reuse that Salesforce's revocation did not follow with
failures we can see; failures logged without the app's name.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta

from ..detector import Context, Detector, Example, Finding
from ..geo import NETWORK_SQL, network_of
from ..testing import ALLOWED_IP, partner_call, refresh

PARTNER_SQL = """
WITH calls AS (
    SELECT * FROM events
    WHERE event_type = 'token_exchange' AND grant_type = 'refresh_token' AND token_fp IS NOT NULL
),
touched AS (
    SELECT DISTINCT org_id, token_fp FROM calls e WHERE {scope}
),
reused AS (
    SELECT c.org_id, c.token_fp FROM calls c SEMI JOIN touched t USING (org_id, token_fp)
    GROUP BY ALL HAVING count(*) > 1
)
SELECT c.event_id, c.org_id, c.app_name, c.user_id, c.occurred_at, c.source_ip, c.token_fp,
       c.new_token_fp, c.worker, c.is_success,
       (SELECT min(n.occurred_at) FROM calls n
        WHERE n.org_id = c.org_id AND n.token_fp = c.new_token_fp) AS successor_used_at
FROM calls c SEMI JOIN reused r USING (org_id, token_fp)
ORDER BY c.org_id, c.token_fp, c.occurred_at, c.event_id
"""

SALESFORCE_SQL = f"""
WITH touched AS (
    SELECT DISTINCT org_id, app_name, user_id FROM events e
    WHERE {{scope}} AND e.event_type = 'login' AND e.grant_type = 'refresh_token'
      AND e.app_name IS NOT NULL AND e.user_id IS NOT NULL
),
successes AS (
    SELECT e.event_id, e.org_id, e.app_name, e.user_id, e.occurred_at, e.updated_at,
           e.source_ip, {NETWORK_SQL.format(ip="e.source_ip")} AS network
    FROM events e SEMI JOIN touched t
        ON t.org_id = e.org_id AND t.app_name = e.app_name AND t.user_id = e.user_id
    WHERE e.event_type = 'login' AND e.grant_type = 'refresh_token'
      AND coalesce(e.is_success, false) AND e.source_ip IS NOT NULL
),
pairs AS (
    SELECT *, lag(event_id) OVER w AS prev_event_id, lag(occurred_at) OVER w AS prev_at,
           lag(source_ip) OVER w AS prev_ip, lag(network) OVER w AS prev_network
    FROM successes
    WINDOW w AS (PARTITION BY org_id, app_name, user_id ORDER BY occurred_at, event_id)
),
first_seen AS (
    SELECT org_id, app_name, user_id, network, min(occurred_at) AS first_at
    FROM successes GROUP BY ALL
),
candidates AS (
    SELECT * FROM pairs
    WHERE prev_network IS NOT NULL AND network <> prev_network
      AND occurred_at - prev_at <= to_seconds(CAST(? AS BIGINT))
)
-- Networks the user refreshed from before the pair: an integration that alternates between
-- regions has two or more and is never "possible reuse".
SELECT c.*, count(f.network) AS networks_before
FROM candidates c
LEFT JOIN first_seen f
    ON f.org_id = c.org_id AND f.app_name = c.app_name AND f.user_id = c.user_id
   AND f.first_at < c.prev_at
GROUP BY ALL
HAVING count(f.network) <= 1
"""

FAILURES_SQL = """
SELECT event_id, occurred_at, status FROM events
WHERE org_id = ? AND app_name = ? AND user_id = ? AND event_type = 'login'
  AND grant_type = 'refresh_token' AND NOT coalesce(is_success, true)
  AND occurred_at > ? AND occurred_at <= ?
ORDER BY occurred_at, event_id
"""


def find(ctx: Context) -> list[Finding]:
    return _from_partner_log(ctx) + _from_salesforce_logs(ctx)


def _off_allowlist(ctx: Context, app: str | None, ip: str) -> bool:
    config = ctx.config.app(app)
    outside = bool(config and config.allowlist and ip not in config.allowlist)
    return outside and not ctx.known_egress.covers(ip, app)


def _partner_egress(ctx: Context, app: str | None, *ips: str) -> bool:
    """Every address is known egress of the app: one egress, whatever the /24s say."""
    return all(ctx.known_egress.covers(ip, app) for ip in ips)


def _from_partner_log(ctx: Context) -> list[Finding]:
    s = ctx.settings
    families: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in ctx.rows(PARTNER_SQL.format(scope=ctx.scope_sql())):
        families[(row["org_id"], row["token_fp"])].append(row)
    verdicts = []
    for (org_id, fp), uses in families.items():
        first = uses[0]
        for later in uses[1:]:
            gap = (later["occurred_at"] - first["occurred_at"]).total_seconds()
            successor = first["successor_used_at"]
            rotated_on = successor is not None and successor < later["occurred_at"]
            same_network = network_of(first["source_ip"]) == network_of(later["source_ip"]) or (
                _partner_egress(ctx, first["app_name"], first["source_ip"], later["source_ip"])
            )
            race = gap <= s["race_window_s"] and same_network and not rotated_on
            verdicts.append((org_id, fp, first, later, gap, race, rotated_on, same_network))
    races = Counter((v[0], v[2]["app_name"], v[2]["user_id"]) for v in verdicts if v[5])
    findings: dict[str, Finding] = {}
    for org_id, fp, first, later, gap, race, rotated_on, same_network in verdicts:
        if fp in findings and race:
            continue  # a theft verdict on the same token outranks a race
        key = (org_id, first["app_name"], first["user_id"])
        if race:
            severity = "medium" if races[key] >= s["race_repeat"] else "low"
            kind = "race"
            why = (
                f"presented twice {gap * 1000:.0f} ms apart from one network "
                f"({first['source_ip']}, {later['source_ip']}); workers "
                f"{first['worker']} and {later['worker']} raced: make the refresh single-flight "
                "(Salesforce revokes the whole token family on any reuse)"
            )
        else:
            kind = "theft"
            off = _off_allowlist(ctx, first["app_name"], later["source_ip"]) or _off_allowlist(
                ctx, first["app_name"], first["source_ip"]
            )
            severity = "critical" if off else "high"
            reasons = []
            if not same_network:
                reasons.append("from another network")
            if gap > s["race_window_s"]:
                reasons.append(f"{gap:,.0f} s after its first use")
            if rotated_on:
                reasons.append("after its successor was already in use (an older generation)")
            why = (
                f"presented again {', '.join(reasons)} by {later['source_ip']} "
                f"(first by {first['source_ip']})"
                + (", outside the app's allowlist" if off else "")
            )
        findings[fp] = Finding(
            dedup_key=f"partner|{org_id}|{fp}",
            summary=(
                f"{ctx.org_label(org_id)}: {first['app_name']} refresh token {fp[:12]}… of user "
                f"{first['user_id']} {why}."
            ),
            first_seen_at=first["occurred_at"],
            last_seen_at=later["occurred_at"],
            event_ids=[first["event_id"], later["event_id"]],
            evidence={
                "classification": kind,
                "token_fp": fp,
                "gap_ms": round(gap * 1000),
                "same_network": same_network,
                "older_generation": rotated_on,
                "first": {
                    "ip": first["source_ip"],
                    "worker": first["worker"],
                    "at": first["occurred_at"],
                },
                "again": {
                    "ip": later["source_ip"],
                    "worker": later["worker"],
                    "at": later["occurred_at"],
                },
                "races_of_this_user": races[key],
            },
            org_id=org_id,
            app_name=first["app_name"],
            user_id=first["user_id"],
            ips=sorted({first["source_ip"], later["source_ip"]}),
            severity=severity,
        )
    return list(findings.values())


def _from_salesforce_logs(ctx: Context) -> list[Finding]:
    s = ctx.settings
    findings = []
    for pair in ctx.rows(SALESFORCE_SQL.format(scope=ctx.scope_sql()), [s["window_s"]]):
        org_id, app, user = pair["org_id"], pair["app_name"], pair["user_id"]
        if _partner_egress(ctx, app, pair["prev_ip"], pair["source_ip"]):
            continue
        end = pair["occurred_at"] + timedelta(seconds=s["failure_window_s"])
        failures = ctx.con.execute(
            FAILURES_SQL, [org_id, app, user, pair["occurred_at"], end]
        ).fetchall()
        if not failures:
            continue
        gap = (pair["occurred_at"] - pair["prev_at"]).total_seconds()
        findings.append(
            Finding(
                dedup_key=f"salesforce|{org_id}|{app}|{user}|{pair['prev_at']:%Y-%m-%dT%H}",
                summary=(
                    f"{ctx.org_label(org_id)}: possible refresh-token reuse for {app}, user "
                    f"{user}: refreshes from {pair['prev_ip']} and {pair['source_ip']} {gap:.0f} s "
                    f"apart, then {len(failures)} failed refresh(es) ({failures[0][2]})."
                ),
                first_seen_at=pair["prev_at"],
                last_seen_at=failures[-1][1],
                event_ids=[pair["prev_event_id"], pair["event_id"], *(f[0] for f in failures)],
                evidence={
                    "classification": "possible_reuse",
                    "networks": [network_of(pair["prev_ip"]), network_of(pair["source_ip"])],
                    "failures": [f[2] for f in failures],
                },
                org_id=org_id,
                app_name=app,
                user_id=user,
                ips=sorted({pair["prev_ip"], pair["source_ip"]}),
                severity="medium",
            )
        )
    return findings


def _chain(at: str, ip: str, fp: str, new: str, worker: str = "w1", **fields) -> dict:
    return partner_call(at, ip, token_fp=fp, new_token_fp=new, worker=worker, **fields)


EXAMPLES = [
    Example(
        "two workers behind one NAT refresh 120 ms apart: a race, low",
        [_chain("2026-05-01T09:00:00.000", ALLOWED_IP, "g1", "g2", "w1"),
         _chain("2026-05-01T09:00:00.120", ALLOWED_IP, "g1", "g2b", "w2")],
        expect=1, severity="low",
    ),
    Example(
        "the same token from a VPS outside the allowlist an hour later: theft, critical",
        [_chain("2026-05-01T09:00:00", ALLOWED_IP, "g1", "g2"),
         _chain("2026-05-01T10:00:00", "208.68.36.90", "g1", "g3")],
        expect=1, severity="critical",
    ),
    Example(
        "an older generation presented after its successor was used: theft",
        [_chain("2026-05-01T09:00:00.000", ALLOWED_IP, "g1", "g2"),
         _chain("2026-05-01T09:00:05.000", ALLOWED_IP, "g2", "g3"),
         _chain("2026-05-01T09:00:10.000", ALLOWED_IP, "g1", "g4")],
        expect=1, severity="high",
    ),
    Example(
        "a clean rotation chain is no reuse",
        [_chain("2026-05-01T09:00:00", ALLOWED_IP, "g1", "g2"),
         _chain("2026-05-01T09:30:00", ALLOWED_IP, "g2", "g3"),
         _chain("2026-05-01T10:00:00", ALLOWED_IP, "g3", "g4")],
        expect=0,
    ),
    Example(
        "Salesforce logs: refreshes from two networks 40 s apart, then the family is revoked",
        [refresh("2026-05-01T08:00:00", ALLOWED_IP), refresh("2026-05-01T08:30:00", ALLOWED_IP),
         refresh("2026-05-01T09:00:00", ALLOWED_IP),
         refresh("2026-05-01T09:00:40", "198.51.100.77"),
         refresh("2026-05-01T09:05:00", ALLOWED_IP, is_success=False,
                 status="Failed: Invalid Token")],
        expect=1, severity="medium",
    ),
    Example(
        "Salesforce logs: alternating allowlisted regions without failures are not reuse",
        [refresh("2026-05-01T09:00:00", ALLOWED_IP),
         refresh("2026-05-01T09:00:30", "2001:db8:10::25"),
         refresh("2026-05-01T09:01:00", ALLOWED_IP)],
        expect=0,
    ),
]  # fmt: skip

DETECTOR = Detector(
    id="refresh_token_reuse",
    title="Refresh token presented more than once",
    severity="high",
    description=__doc__ or "",
    find=find,
    examples=EXAMPLES,
    runbook="""\
1. Read the classification in the evidence: race, theft or possible_reuse.
2. Race: the two workers named refreshed one token concurrently. Make the refresh single-flight
   (one refresher, a lock or a shared store that writes the new token atomically); resolve the
   alert once the deploy is out. Expect the family to have been revoked: re-authorize the user.
3. Theft: treat the token family as compromised. Revoke the user's tokens for the app (OAuth
   usage API: DELETE /apps/oauth/usage/{appId}/tokens), re-authorize, and look up the foreign
   IP; search every org for it and report to security@salesforce.com.
4. Possible reuse (Salesforce logs only): check the partner's token log for the same minutes;
   if the second network is not the partner's, handle it as theft.
""",
    settings={"race_window_s": 30, "race_repeat": 3, "window_s": 120, "failure_window_s": 3600},
    lookback=timedelta(days=14),
    attack=("T1550.001",),
    needs="the partner token log (token_fp, new_token_fp); refresh-token logins with app names",
)
