"""Controls readiness: the five controls a partner must show Salesforce, judged from the logs.

Per app and org (and rolled up per app) over a window (default: the last 30 days of data),
each control gets exactly one verdict, with the rows that prove it:

- `fail` needs a counter-example: a successful refresh from outside the allowlist (enforcement
  off); a refresh that returned no new token or the same one, or a reuse Salesforce accepted
  (rotation off); an authorization-code grant without a verifier (PKCE off); a token used after
  more than 30 days idle (timeout off);
- `pass` needs positive evidence, not silence: every authorization-code grant in the window
  sent a verifier; every successful refresh returned a new token; an attempt from outside the
  allowlist was blocked; a token idle past 30 days was refused. Monitoring passes when ingest
  and detection covered the org in the last 24 h;
- `not applicable`: an app whose flows hold no refresh tokens (JWT bearer, client credentials);
- `no evidence` otherwise, saying what is missing.

The roll-up per app fails when any org fails, passes only when every org it applies to passes.
Each verdict carries up to 20 rows: the first by time, or, for a fact with more than 10,000
rows (every successful refresh of a busy integration), the first 20 the scan meets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from ingest.config import Config
from ingest.netlist import parse_ip
from ingest.timeparse import now_utc

from . import controls_sql as sql
from .export import rows_csv
from .filters import day_window, default_window

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
MONITORING_HOURS = 24
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
MISSING_REASON = {
    "pkce": "no authorization-code grant with a known verifier in the window (only the "
    "partner's token log records it)",
    "rotation": "no successful refresh in the partner's token log (Salesforce's logs do not "
    "show the tokens returned)",
    "idle_timeout": "no token was presented after more than 30 days idle",
    "allowlist": "no refresh from outside the allowlist in the window",
}


COLUMNS = [
    "app", "org_id", "scope", "control", "control_name", "verdict", "reason",
    "counter_examples", "positive_evidence", "evidence", "window_start", "window_end",
]  # fmt: skip


def controls_readiness(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    window: tuple[datetime, datetime] | None = None,
    *,
    now: datetime | None = None,
    live: bool = False,
) -> pd.DataFrame:
    """One row per (app, org, control), then the roll-up per app (org_id null, scope "app").

    Columns: app, org_id, scope, control, control_name, verdict, reason, counter_examples,
    positive_evidence, evidence (up to 20 dicts: the rows behind the verdict), window_start,
    window_end. `now` (default: the wall clock) is what "the last 24 h" of monitoring counts
    back from: it is about the pipeline running, not about the data's age. The default window
    is the last 30 days of data in whole UTC days (`day_window`), as the dashboard picks it.

    That window is read from the snapshot detect leaves (controls_snapshot) when it was
    computed for the same window and allowlists; any other window, or `live`, scans events.
    """
    from .controls_snapshot import read_snapshot

    start, end = window or day_window(default_window(con))
    if not config.apps:
        return pd.DataFrame(columns=COLUMNS)
    rows = None if live else read_snapshot(con, config, start, end)
    if rows is None:
        rows = judge_orgs(con, config, start, end)
    _apply_monitoring(con, rows, now or now_utc())
    rows += _roll_up(rows, start, end)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["org_id"] = frame["org_id"].astype(object).where(frame["org_id"].notna(), None)
    return frame


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


def _apply_monitoring(
    con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]], now: datetime
) -> None:
    pending = [row for row in rows if row["control"] == "monitoring" and row["verdict"] is None]
    monitoring = _monitoring(con, sorted({row["org_id"] for row in pending}), now)
    for row in pending:
        (row["verdict"], row["reason"]), row["evidence"] = monitoring[row["org_id"]]
        row["counter_examples"] = len(row["evidence"]) if row["verdict"] == FAIL else 0
        row["positive_evidence"] = len(row["evidence"]) if row["verdict"] == PASS else 0


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
    if "positive" in found:
        count, evidence = found["positive"]
        return (PASS, PASS_REASON[control].format(n=count)), evidence
    return (NO_EVIDENCE, MISSING_REASON[control]), []


def _monitoring(
    con: duckdb.DuckDBPyConnection, orgs: Sequence[str], now: datetime
) -> dict[str, tuple[tuple[str, str], list]]:
    since = now - timedelta(hours=MONITORING_HOURS)
    verdicts: dict[str, tuple[tuple[str, str], list]] = {}
    if not orgs:
        return verdicts
    for org, last_load, failed_at, error, unit, detect_ok, detect_failed in con.execute(
        sql.MONITORING_SQL, [list(orgs)]
    ).fetchall():
        evidence = [
            {"what": "last ingest or import", "at": last_load},
            {"what": "last failed ingest or import", "at": failed_at, "unit": unit, "error": error},
            {"what": "last successful detect run", "at": detect_ok},
            {"what": "last failed detect run", "at": detect_failed},
        ]
        evidence = [row for row in evidence if row["at"] is not None]
        if last_load is None and detect_ok is None:
            verdicts[org] = (NO_EVIDENCE, "no ingest, import or detect run recorded"), evidence
        elif last_load is not None and last_load >= since and detect_ok and detect_ok >= since:
            verdicts[org] = (
                (PASS, f"ingested and detected within the last {MONITORING_HOURS} h"),
                evidence,
            )
        else:
            stale = "ingest" if last_load is None or last_load < since else "detection"
            verdicts[org] = (
                (FAIL, f"no successful {stale} of this org in the last {MONITORING_HOURS} h"),
                evidence,
            )
    return verdicts


def _roll_up(rows: list[dict[str, Any]], start: datetime, end: datetime) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["app"], row["control"])].append(row)
    rolled = []
    for (app, control), members in sorted(groups.items()):
        counts = {v: sum(1 for m in members if m["verdict"] == v) for v in VERDICTS}
        if counts[FAIL]:
            verdict = FAIL
        elif counts[NOT_APPLICABLE] == len(members):
            verdict = NOT_APPLICABLE
        elif counts[PASS] == len(members) - counts[NOT_APPLICABLE]:
            verdict = PASS
        else:
            verdict = NO_EVIDENCE
        reason = ", ".join(f"{counts[v]} org(s) {v}" for v in VERDICTS if counts[v])
        rolled.append(
            {
                "app": app, "org_id": None, "scope": "app", "control": control,
                "control_name": CONTROLS[control], "verdict": verdict, "reason": reason,
                "counter_examples": sum(m["counter_examples"] for m in members),
                "positive_evidence": sum(m["positive_evidence"] for m in members),
                "evidence": [
                    {"org_id": m["org_id"], "verdict": m["verdict"], "reason": m["reason"]}
                    for m in members
                ],
                "window_start": start, "window_end": end,
            }
        )  # fmt: skip
    return rolled


CSV_FIELDS = (
    "app", "org_id", "control_name", "verdict", "reason", "counter_examples",
    "positive_evidence", "window_start", "window_end", "evidence",
)  # fmt: skip


def controls_csv(frame: pd.DataFrame) -> str:
    """The readiness table as CSV for the partner's attestation, one line per verdict, the
    evidence rows flattened into one cell; spreadsheet-safe (no cell starts a formula)."""
    records = []
    for record in frame.to_dict(orient="records"):
        record["org_id"] = record["org_id"] or "all orgs"
        record["evidence"] = " | ".join(_evidence_text(row) for row in record["evidence"])
        records.append(record)
    return rows_csv(records, CSV_FIELDS)


def _evidence_text(row: dict[str, Any]) -> str:
    return "; ".join(
        f"{key}={value}" for key, value in row.items() if value is not None and key != "sources"
    )
