"""The per-org verdicts of the controls, judged from the window's events (see `controls`).

Shared by the live readiness (`controls.controls_readiness`) and the snapshot detect leaves
(`controls_snapshot`); monitoring is judged at read time, in `controls`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from ingest.config import Config
from ingest.netlist import parse_ip

from . import controls_sql as sql

PASS, FAIL, NO_EVIDENCE, NOT_APPLICABLE = "pass", "fail", "no evidence", "not applicable"
VERDICTS = (PASS, FAIL, NO_EVIDENCE, NOT_APPLICABLE)
CONTROLS = {  # id -> the name the partner's attestation uses
    "pkce": "PKCE",
    "rotation": "Refresh Token Rotation",
    "idle_timeout": "30-day idle timeout",
    "allowlist": "Refresh-token IP allowlist enforced",
    "monitoring": "Refresh-token IP monitoring",
}
IDLE_DAYS = 30
EVIDENCE_ROWS = 20  # rows kept per verdict; the count says how many there were
NO_REFRESH_GRANTS = {"jwt_bearer", "client_credentials"}
UNKNOWN_GRANTS = {"oauth_unspecified"}  # Login ELF "Remote Access 2.0": some OAuth flow

PASS_REASON = {
    "pkce": "every authorization-code grant ({n}) sent a code verifier",
    "rotation": "every successful refresh ({n}) returned a new refresh token",
    "idle_timeout": "a token idle more than 30 days was refused ({n}×)",
    "allowlist": "attempts from outside the allowlist were blocked ({n}×)",
}
FAIL_REASON = {
    "pkce": "{n} authorization-code grant(s) without a code verifier",
    "rotation": "{n} refresh(es) returned no new token or the same one, or a reused token "
    "was accepted",
    "idle_timeout": "{n} refresh(es) succeeded after more than 30 days idle",
    "allowlist": "{n} successful refresh(es) from outside the allowlist",
}
# A bypass seen only through an app inferred from the user agent (the weakest rule): suspected,
# never `fail` on its own. The verdict stays one of the four words; the reason says so.
SUSPECTED = "suspected"
SUSPECT_REASON = {
    "allowlist": SUSPECTED + ": {n} successful refresh(es) from outside the allowlist whose app "
    "was inferred from the user agent only (confidence {confidence:.2f}); confirm the app "
    "before attesting",
}
MISSING_REASON = {
    "pkce": "no authorization-code grant with a known verifier in the window (only the "
    "partner's token log records it)",
    "rotation": "no successful refresh in the partner's token log (Salesforce's logs do not "
    "show the tokens returned)",
    "idle_timeout": "no token was presented after more than 30 days idle",
    "allowlist": "no refresh from outside the allowlist in the window",
}


def judge_orgs(
    con: duckdb.DuckDBPyConnection, config: Config, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """The per-org rows from the window's events; monitoring left to `_apply_monitoring`
    (verdict None) unless the app holds no refresh tokens there."""
    apps = {name.lower(): name for name in config.apps}
    grants, facts = _facts(con, config, start, end, sorted(apps))
    rows: list[dict[str, Any]] = []
    for app_key, org_id, app_grants in grants:
        known = set(app_grants) - UNKNOWN_GRANTS
        no_refresh = bool(known) and known <= NO_REFRESH_GRANTS
        for control in CONTROLS:
            counters = positives = 0
            evidence: list = []
            if no_refresh:
                verdict: tuple[str | None, str | None] = (
                    NOT_APPLICABLE,
                    f"flows hold no refresh token ({', '.join(sorted(known))})",
                )
            elif control == "monitoring":
                verdict = (None, None)
            else:
                found = facts.get((app_key, org_id, control), {})
                verdict, evidence = _judge(config, apps[app_key], control, found)
                counters = found.get("counter", (0, []))[0]
                positives = found.get("positive", (0, []))[0]
            rows.append(
                {
                    "app": apps[app_key], "org_id": org_id, "scope": "org", "control": control,
                    "control_name": CONTROLS[control], "verdict": verdict[0],
                    "reason": verdict[1], "counter_examples": counters,
                    "positive_evidence": positives, "evidence": evidence,
                    "window_start": start, "window_end": end,
                }
            )  # fmt: skip
    return rows


Facts = dict[tuple[str, str, str], dict[str, tuple[int, list]]]
ABUNDANT = 10_000  # a fact with more rows is sampled (first rows found), not sorted by time


def _facts(
    con: duckdb.DuckDBPyConnection, config: Config, start: datetime, end: datetime, keys: list
) -> tuple[list[tuple[str, str, list[str]]], Facts]:
    """(app_key, org_id, grants) seen in the window, and the evidence per control and kind."""
    allowlists = {name.lower(): app.allowlist for name, app in config.apps.items() if app.allowlist}
    outside = [
        (app_key, ip)
        for app_key, ip in con.execute(sql.DISTINCT_IPS_SQL, [start, end, keys]).fetchall()
        if app_key in allowlists
        and (address := parse_ip(ip)) is not None
        and address not in allowlists[app_key]
    ]
    window = [start, end, keys]
    counts: dict[tuple[int, str, str], int] = {}
    reused: dict[tuple[str, str], tuple[int, list]] = {}
    grants = []
    con.register("outside", pd.DataFrame(outside, columns=["app_key", "ip"], dtype=object))
    try:
        for app_key, org_id, app_grants, *columns in con.execute(sql.FACTS_SQL, window).fetchall():
            grants.append((app_key, org_id, app_grants))
            *per_fact, maybe_reused = columns
            counts.update({(i, app_key, org_id): n for i, n in enumerate(per_fact) if n})
            if maybe_reused:
                [(count, rows)] = con.execute(
                    sql.REUSED_SQL, [start, end, app_key, org_id, EVIDENCE_ROWS]
                ).fetchall()
                if count:
                    reused[(app_key, org_id)] = (count, rows)
        facts = _evidence(con, window, counts)
    finally:
        con.unregister("outside")
    for (app_key, org_id), (count, rows) in reused.items():
        # A token Salesforce accepted twice: rotation counter-examples next to the others.
        old_count, old_rows = facts[(app_key, org_id, "rotation")].get("counter", (0, []))
        merged = sorted(old_rows + rows, key=lambda row: row["occurred_at"])[:EVIDENCE_ROWS]
        facts[(app_key, org_id, "rotation")]["counter"] = (old_count + count, merged)
    _idle_facts(con, start, end, keys, facts)
    return grants, facts


def _evidence(
    con: duckdb.DuckDBPyConnection, window: list, counts: dict[tuple[int, str, str], int]
) -> Facts:
    """The rows behind each counted fact: the first by time, or a sample of abundant ones."""
    rows: dict[tuple[int, str, str], list] = {}
    rare = [key for key, n in counts.items() if n <= ABUNDANT]
    if rare:
        keys = [value for _, app_key, org_id in rare for value in (app_key, org_id)]
        found = con.execute(
            sql.evidence_sql(rare), [*window, *keys, *keys, EVIDENCE_ROWS]
        ).fetchall()
        rows.update({(fact, app, org): evidence for app, org, fact, evidence in found})
    facts: Facts = defaultdict(dict)
    for (index, app_key, org_id), n in counts.items():
        if n > ABUNDANT:
            sample = con.execute(
                sql.sample_sql(index), [*window, app_key, org_id, EVIDENCE_ROWS]
            ).fetchall()
            rows[(index, app_key, org_id)] = [row for (row,) in sample]
        control, kind, *_ = sql.FACTS[index]
        facts[(app_key, org_id, control)][kind] = (n, rows.get((index, app_key, org_id), []))
    return facts


def _idle_facts(
    con: duckdb.DuckDBPyConnection, start: datetime, end: datetime, keys: list, facts: Facts
) -> None:
    lookback = start - timedelta(days=IDLE_DAYS + 1)
    hits = con.execute(
        sql.IDLE_HITS_SQL,
        [lookback, end, keys, lookback, keys, start, IDLE_DAYS, start, IDLE_DAYS],
    ).df()
    if hits.empty:
        return
    counts = hits.groupby(["app_key", "org_id", "kind"]).size().to_dict()
    con.register("idle_hits", hits)
    try:
        rows = con.execute(sql.IDLE_ROWS_SQL, [EVIDENCE_ROWS, start, end]).fetchall()
    finally:
        con.unregister("idle_hits")
    for app_key, org_id, control, kind, _, evidence in rows:
        facts[(app_key, org_id, control)][kind] = (counts[(app_key, org_id, kind)], evidence)


def _judge(
    config: Config, app: str, control: str, found: dict[str, tuple[int, list]]
) -> tuple[tuple[str, str], list]:
    if control == "allowlist" and config.apps[app].allowlist is None:
        return (NO_EVIDENCE, "no allowlist configured for this app in tokensentry"), []
    if "counter" in found:
        count, evidence = found["counter"]
        return (FAIL, FAIL_REASON[control].format(n=count)), evidence
    if "suspect" in found:
        count, evidence = found["suspect"]
        confidence = min(
            (row["confidence"] for row in evidence if row.get("confidence") is not None),
            default=0.0,
        )
        return (
            NO_EVIDENCE,
            SUSPECT_REASON[control].format(n=count, confidence=confidence),
        ), evidence
    if "positive" in found:
        count, evidence = found["positive"]
        return (PASS, PASS_REASON[control].format(n=count)), evidence
    return (NO_EVIDENCE, MISSING_REASON[control]), []
