"""A refresh token presented more than once: a rotation race, a retry, or a stolen token.

Why it matters: with Refresh Token Rotation every refresh token is single-use, and Salesforce
answers any reuse by revoking the whole token family. A reuse is either the partner's own
workers racing (two processes refreshing at once: fix with a single-flight refresh), a worker
retrying its own failed call, or a copy of the token in someone else's hands (RFC 9700
§4.14.2). The partner's token log names the token (`token_fp`), so a reuse is classified:

- retry: the token was presented before but no earlier presentation got a new token (a 5xx,
  a timeout, its own failed call). One use, not two: info; low when the retry was refused,
  because the first call did reach Salesforce (it rotated the token; the evidence says whether
  Salesforce's logs show it) and the retry is a reuse of the worker's own making;
- race: the second presentation within `race_window_s` of the successful one, from the same
  network, and the token is the immediately previous generation: low, never more (the summary
  says so when one user raced `race_repeat` times in the scan: each race revoked the family);
- theft: another network, later than the window, or an older generation: high, critical when
  the other presentation came from outside the app's allowlist.

Networks are judged by allowlist membership: every address inside the app's allowlist (or its
`known_egress`) is one trusted network, so a partner egressing from several regions races
instead of "stealing" from itself (`detect/scope.py`). A call whose egress is unknown (a
partner log without its NAT address) is judged by worker, outcome and timing alone: never "from
another network", never critical.

Salesforce's own logs carry no token id, so from them alone it flags "possible reuse": two
successful refreshes of one (org, app, user) from different networks within `window_s` while
that user had refreshed from one network only (the whole allowlist counting as one), followed
by failed refreshes (the family revoked): medium, with the rows as evidence. It watches the
partner's own apps only (`[apps]` and the partner log's apps); a Login ELF row counts under its
inferred app (`detect/attribution.py`) and the alert says so. A newest token refused with an
intact chain is `chain_rejection`'s.

Blind spots: reuse of tokens the partner does not log; from Salesforce logs, a thief on the same
network as the integration (or inside its allowlist), or a reuse that Salesforce's revocation
did not follow with failures we can see; app-less failures whose app nothing reveals; a retry
whose first call never reached Salesforce but a thief's did (reported as a retry).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta

from ..attribution import app_sql
from ..detector import Context, Detector, Example, Finding
from ..possible_reuse import from_salesforce_logs
from ..scope import ip_label, known_ips, same_network
from ..testing import ALLOWED_IP, elf_refresh, partner_call, refresh

EVENT_APP = app_sql("e")

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
       c.new_token_fp, c.worker, c.is_success, c.status,
       (SELECT min(n.occurred_at) FROM calls n
        WHERE n.org_id = c.org_id AND n.token_fp = c.new_token_fp) AS successor_used_at
FROM calls c SEMI JOIN reused r USING (org_id, token_fp)
ORDER BY c.org_id, c.token_fp, c.occurred_at, c.event_id
"""


def find(ctx: Context) -> list[Finding]:
    return _from_partner_log(ctx) + from_salesforce_logs(ctx)


RANK = {"retry": 0, "race": 1, "theft": 2}

REACHED_SQL = f"""
SELECT count(*) FROM events e
WHERE e.org_id = ? AND e.user_id IS NOT DISTINCT FROM ? AND e.event_type = 'login'
  AND e.grant_type = 'refresh_token' AND e.is_success AND lower({EVENT_APP}) = lower(?)
  AND e.occurred_at >= ? AND e.occurred_at <= ?
"""


def _off_allowlist(ctx: Context, app: str | None, ip: str | None) -> bool:
    """Known to be outside the allowlist: an unknown egress never is."""
    config = ctx.config.app(app)
    if ip is None:
        return False
    outside = bool(config and config.allowlist and ip not in config.allowlist)
    return outside and not ctx.known_egress.covers(ip, app)


def _verdict(ctx: Context, uses: list[dict], later: dict) -> dict:
    """Classify one more presentation of a token against the presentations before it."""
    s = ctx.settings
    app = later["app_name"]
    rotated = [u for u in uses if u["is_success"] and u["new_token_fp"]]
    first = rotated[0] if rotated else uses[-1]
    gap = (later["occurred_at"] - first["occurred_at"]).total_seconds()
    same = same_network(ctx, app, first["source_ip"], later["source_ip"])
    unknown = first["source_ip"] is None or later["source_ip"] is None
    successor = first["successor_used_at"]
    rotated_on = successor is not None and successor < later["occurred_at"]
    verdict = {"first": first, "later": later, "gap": gap,
               "same_network": None if unknown else same,
               "older_generation": rotated_on, "reached": None}  # fmt: skip
    if not rotated and same:
        # Nobody got a new token yet: the worker is retrying its own call.
        errors = [u for u in uses if u["status"] == "error"]
        refused = later["status"] == "invalid_grant"
        if refused and errors:
            window = timedelta(seconds=s["retry_match_s"])
            verdict["reached"] = bool(ctx.con.execute(REACHED_SQL, [
                later["org_id"], later["user_id"], app,
                errors[0]["occurred_at"] - window, errors[-1]["occurred_at"] + window,
            ]).fetchone()[0])  # type: ignore[index]  # fmt: skip
        return {**verdict, "kind": "retry", "severity": "low" if refused and errors else "info"}
    if gap <= s["race_window_s"] and same and not rotated_on:
        return {**verdict, "kind": "race", "severity": "low"}
    off = _off_allowlist(ctx, app, later["source_ip"]) or _off_allowlist(
        ctx, app, first["source_ip"]
    )
    return {**verdict, "kind": "theft", "severity": "critical" if off else "high", "off": off}


def _why(ctx: Context, v: dict, races: int) -> str:
    s = ctx.settings
    first, later, gap = v["first"], v["later"], v["gap"]
    if v["kind"] == "retry":
        if v["severity"] == "low":
            reached = (
                "Salesforce's logs show it"
                if v["reached"]
                else "Salesforce's logs we hold do not show it"
            )
            return (
                f"retried by worker {later['worker']} {gap:,.0f} s after a failed call and "
                "refused: "
                f"the first call reached Salesforce and rotated the token ({reached}), so the "
                "retry is a reuse of the worker's own making, not theft; keep the new token "
                "even when the response times out, or retry only on errors Salesforce answered"
            )
        return (
            f"retried by worker {later['worker']} {gap:,.0f} s after its own failed call "
            f"({first['status']}): one use, not two"
        )
    if v["kind"] == "race":
        return (
            f"presented twice {gap * 1000:.0f} ms apart from the partner's network "
            f"({ip_label(first['source_ip'])}, {ip_label(later['source_ip'])}); workers "
            f"{first['worker']} and "
            f"{later['worker']} raced"
            + (
                f" ({races} races of this user in the scan: each one revoked the family)"
                if races >= s["race_repeat"]
                else ""
            )
            + ": make the refresh single-flight (Salesforce revokes the whole token family on "
            "any reuse)"
        )
    reasons = []
    if v["same_network"] is False:
        reasons.append("from another network")
    if gap > s["race_window_s"]:
        reasons.append(f"{gap:,.0f} s after its first use")
    if v["older_generation"]:
        reasons.append("after its successor was already in use (an older generation)")
    return (
        f"presented again {', '.join(reasons)} by {ip_label(later['source_ip'])} "
        f"(first by {ip_label(first['source_ip'])})"
        + (", outside the app's allowlist" if v.get("off") else "")
    )


def _from_partner_log(ctx: Context) -> list[Finding]:
    s = ctx.settings
    families: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in ctx.rows(PARTNER_SQL.format(scope=ctx.scope_sql())):
        families[(row["org_id"], row["token_fp"])].append(row)
    verdicts: dict[tuple[str, str], dict] = {}
    for key, uses in families.items():
        for index in range(1, len(uses)):
            verdict = _verdict(ctx, uses[:index], uses[index])
            best = verdicts.get(key)
            if best is None or RANK[verdict["kind"]] > RANK[best["kind"]]:
                verdicts[key] = verdict  # one alert per token: the gravest reading wins
    races = Counter(
        (org_id, v["first"]["app_name"], v["first"]["user_id"])
        for (org_id, _), v in verdicts.items()
        if v["kind"] == "race"
    )
    findings = []
    for (org_id, fp), v in verdicts.items():
        first, later = v["first"], v["later"]
        user_races = races[(org_id, first["app_name"], first["user_id"])]
        findings.append(
            Finding(
                dedup_key=f"partner|{org_id}|{fp}",
                summary=(
                    f"{ctx.org_label(org_id)}: {first['app_name']} refresh token {fp[:12]}… of "
                    f"user {first['user_id']} {_why(ctx, v, user_races)}."
                ),
                first_seen_at=first["occurred_at"],
                last_seen_at=later["occurred_at"],
                event_ids=[first["event_id"], later["event_id"]],
                evidence={
                    "classification": v["kind"],
                    "token_fp": fp,
                    "gap_ms": round(v["gap"] * 1000),
                    "same_network": v["same_network"],
                    "older_generation": v["older_generation"],
                    "first_call_reached_salesforce": v["reached"],
                    "first": {
                        "ip": ip_label(first["source_ip"]),
                        "worker": first["worker"],
                        "at": first["occurred_at"],
                        "outcome": first["status"],
                    },
                    "again": {
                        "ip": ip_label(later["source_ip"]),
                        "worker": later["worker"],
                        "at": later["occurred_at"],
                        "outcome": later["status"],
                    },
                    "races_of_this_user": user_races,
                    "repeated_races": v["kind"] == "race" and user_races >= s["race_repeat"],
                },
                org_id=org_id,
                app_name=first["app_name"],
                user_id=first["user_id"],
                ips=known_ips(first["source_ip"], later["source_ip"]),
                severity=v["severity"],
            )
        )
    return findings


def _chain(at: str, ip: str, fp: str, new: str | None, worker: str = "w1", **fields) -> dict:
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
        "egress unknown (not configured): the rotated token again an hour later, theft, high",
        [_chain("2026-05-01T09:00:00", None, "g1", "g2", "w1"),
         _chain("2026-05-01T10:00:00", None, "g1", "g3", "w2")],
        expect=1, severity="high",
    ),
    Example(
        "egress unknown: a worker retries its own failed call, info",
        [_chain("2026-05-01T09:00:00", None, "g1", None, is_success=False, status="error"),
         _chain("2026-05-01T09:02:00", ALLOWED_IP, "g1", "g2")],
        expect=1, severity="info",
    ),
    Example(
        "an older generation presented after its successor was used: theft",
        [_chain("2026-05-01T09:00:00.000", ALLOWED_IP, "g1", "g2"),
         _chain("2026-05-01T09:00:05.000", ALLOWED_IP, "g2", "g3"),
         _chain("2026-05-01T09:00:10.000", ALLOWED_IP, "g1", "g4")],
        expect=1, severity="high",
    ),
    Example(
        "two regions of the allowlist race 150 ms apart: one trusted network, a race",
        [_chain("2026-05-01T09:00:00.000", ALLOWED_IP, "g1", "g2", "us-1"),
         _chain("2026-05-01T09:00:00.150", "2001:db8:10::25", "g1", "g2b", "eu-1")],
        expect=1, severity="low",
    ),
    Example(
        "a worker retries after a 5xx and gets its token: one use, info",
        [_chain("2026-05-01T09:00:00", ALLOWED_IP, "g1", None, is_success=False,
                status="error", error_description="HTTP 503"),
         _chain("2026-05-01T09:02:00", ALLOWED_IP, "g1", "g2")],
        expect=1, severity="info",
    ),
    Example(
        "a retry after a timeout that reached Salesforce is refused: own reuse, low",
        [_chain("2026-05-01T09:00:00", ALLOWED_IP, "g1", None, is_success=False,
                status="error", error_description="read timed out"),
         refresh("2026-05-01T09:00:01", ALLOWED_IP),
         _chain("2026-05-01T09:01:30", ALLOWED_IP, "g1", None, is_success=False,
                status="invalid_grant", error_description="expired access/refresh token")],
        expect=1, severity="low",
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
        "Salesforce logs: a partner in two allowlisted regions, then a foreign refresh and the "
        "family revoked: medium",
        [refresh("2026-05-01T08:00:00", ALLOWED_IP),
         refresh("2026-05-01T08:30:00", "2001:db8:10::25"),
         refresh("2026-05-01T09:00:00", ALLOWED_IP),
         refresh("2026-05-01T09:00:40", "198.51.100.77"),
         refresh("2026-05-01T09:05:00", "2001:db8:10::25", is_success=False,
                 status="Failed: Invalid Token")],
        expect=1, severity="medium",
    ),
    Example(
        "Login ELF only: the same story counts under the inferred app",
        [elf_refresh("2026-05-01T08:00:00", ALLOWED_IP),
         elf_refresh("2026-05-01T09:00:00", ALLOWED_IP),
         elf_refresh("2026-05-01T09:00:40", "198.51.100.77"),
         elf_refresh("2026-05-01T09:05:00", ALLOWED_IP, is_success=False,
                     status="Failed: Invalid Token")],
        expect=1, severity="medium",
    ),
    Example(
        "Salesforce logs: another vendor's app is not watched",
        [refresh("2026-05-01T08:00:00", "192.0.2.1", app_name="Other App"),
         refresh("2026-05-01T08:00:40", "198.51.100.77", app_name="Other App"),
         refresh("2026-05-01T08:05:00", "192.0.2.1", app_name="Other App", is_success=False,
                 status="Failed: Invalid Token")],
        expect=0,
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
1. Read the classification in the evidence: retry, race, theft or possible_reuse.
2. Retry: the worker presented the token again after its own failed call. Info: nothing to do.
   Low (refused): the first call reached Salesforce and rotated the token while the worker
   timed out; persist the new token before acting on the response, and re-authorize the user.
3. Race: the two workers named refreshed one token concurrently. Make the refresh single-flight
   (one refresher, a lock or a shared store that writes the new token atomically); resolve the
   alert once the deploy is out. Expect the family to have been revoked: re-authorize the user.
4. Theft: treat the token family as compromised. Revoke the user's tokens for the app (OAuth
   usage API: DELETE /apps/oauth/usage/{appId}/tokens), re-authorize, and look up the foreign
   IP; search every org for it and report to security@salesforce.com.
5. Possible reuse (Salesforce logs only): check the partner's token log for the same minutes;
   if the second network is not the partner's, handle it as theft. When the app was inferred
   (evidence.app_inferred), confirm it from the session's API calls first.
""",
    settings={
        "race_window_s": 30,
        "race_repeat": 3,  # races of one user in a scan that the summary calls a pattern
        "window_s": 120,
        "failure_window_s": 3600,
        "retry_match_s": 60,  # a Salesforce refresh this close to a failed call is that call
    },
    lookback=timedelta(days=14),
    attack=("T1550.001",),
    needs="the partner token log (token_fp, new_token_fp); refresh-token logins with app names",
)
