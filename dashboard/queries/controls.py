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

The evidence is the detectors': a login the logs left app-less counts under the app
`detect/attribution.py` inferred for it (each evidence row carries `app_inferred` and
`confidence`); an app inferred from the user agent alone (confidence below off_allowlist_ip's
`min_confidence`) makes a bypass `suspected` (column `suspected`, the reason says so), never
`fail` by itself. An open alert that proves a bypass (off_allowlist_ip with a success at high
severity; a dormant token idle_token saw used again) makes the verdict `fail` whatever the
window's rows say: an attestation must never contradict the alerts.

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
from ingest.timeparse import now_utc

from . import controls_sql as sql
from .controls_judge import (
    CONTROLS,
    FAIL,
    NO_EVIDENCE,
    NOT_APPLICABLE,
    PASS,
    SUSPECTED,
    VERDICTS,
    judge_orgs,
)
from .controls_snapshot import read_snapshot
from .export import rows_csv
from .filters import day_window, default_window

MONITORING_HOURS = 24

COLUMNS = [
    "app", "org_id", "scope", "control", "control_name", "verdict", "reason",
    "counter_examples", "positive_evidence", "evidence", "window_start", "window_end",
    "suspected",
]  # fmt: skip

# Open alerts that prove a control is bypassed, per control: (detector, condition on `a`).
PROVING_ALERTS_SQL = """
SELECT a.alert_id, a.detector_id, a.severity, a.org_id, lower(a.app_name) AS app_key,
       a.first_seen_at, a.last_seen_at, a.summary,
       CASE WHEN a.detector_id = 'off_allowlist_ip' THEN 'allowlist' ELSE 'idle_timeout' END
           AS control,
       a.detector_id = 'off_allowlist_ip' AND a.severity <> 'high' AS weak
FROM alerts a LEFT JOIN triage t USING (alert_id)
WHERE coalesce(t.status, 'new') IN ('new', 'acknowledged')
  AND a.first_seen_at <= ? AND a.last_seen_at >= ? AND a.app_name IS NOT NULL
  AND ((a.detector_id = 'off_allowlist_ip'
        AND coalesce(TRY_CAST(json_extract(a.evidence, '$.successes') AS BIGINT), 0) > 0)
       OR (a.detector_id = 'idle_token' AND a.dedup_key LIKE 'dormant|%'))
ORDER BY a.first_seen_at, a.alert_id
"""


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
    start, end = window or day_window(default_window(con))
    if not config.apps:
        return pd.DataFrame(columns=COLUMNS)
    rows = None if live else read_snapshot(con, config, start, end)
    if rows is None:
        rows = judge_orgs(con, config, start, end)
    _apply_monitoring(con, rows, now or now_utc())
    _apply_alerts(con, rows, start, end)
    for row in rows:
        row["suspected"] = bool(row["reason"]) and row["reason"].startswith(SUSPECTED)
    rows += _roll_up(rows, start, end)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["org_id"] = frame["org_id"].astype(object).where(frame["org_id"].notna(), None)
    return frame


def _apply_monitoring(
    con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]], now: datetime
) -> None:
    pending = [row for row in rows if row["control"] == "monitoring" and row["verdict"] is None]
    monitoring = _monitoring(con, sorted({row["org_id"] for row in pending}), now)
    for row in pending:
        (row["verdict"], row["reason"]), row["evidence"] = monitoring[row["org_id"]]
        row["counter_examples"] = len(row["evidence"]) if row["verdict"] == FAIL else 0
        row["positive_evidence"] = len(row["evidence"]) if row["verdict"] == PASS else 0


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


def _apply_alerts(
    con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]], start: datetime, end: datetime
) -> None:
    """Open alerts proving a bypass: `fail` (or, on an app inferred from the user agent only,
    `suspected`) where the window's rows said pass or no evidence."""
    by_key = {(row["app"].lower(), row["org_id"], row["control"]): row for row in rows}
    proofs: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    cursor = con.execute(PROVING_ALERTS_SQL, [end, start])
    names = [column[0] for column in cursor.description]
    for values in cursor.fetchall():
        alert = dict(zip(names, values, strict=True))
        proofs[(alert["app_key"], alert["org_id"], alert["control"])].append(alert)
    for key, alerts in proofs.items():
        row = by_key.get(key)
        if row is None or row["verdict"] in (FAIL, NOT_APPLICABLE):
            continue
        strong = [alert for alert in alerts if not alert["weak"]]
        evidence = [
            {
                "what": "open alert", "alert_id": a["alert_id"], "detector": a["detector_id"],
                "severity": a["severity"], "at": a["first_seen_at"], "detail": a["summary"],
            }
            for a in (strong or alerts)
        ]  # fmt: skip
        if strong:
            row["verdict"] = FAIL
            row["reason"] = f"{len(strong)} open alert(s) prove the control bypassed"
            row["counter_examples"] = max(row["counter_examples"], len(strong))
            row["evidence"] = evidence + list(row["evidence"])
        elif not (row["reason"] or "").startswith(SUSPECTED):
            row["verdict"] = NO_EVIDENCE
            row["reason"] = (
                f"{SUSPECTED}: {len(alerts)} open alert(s) on an app inferred from the user agent "
                "only; confirm the app before attesting"
            )
            row["evidence"] = evidence + list(row["evidence"])


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
                "suspected": any(m["suspected"] for m in members) and verdict != FAIL,
            }
        )  # fmt: skip
    return rolled


CSV_FIELDS = (
    "app", "org_id", "control_name", "verdict", "suspected", "reason", "counter_examples",
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


def controls_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The verdicts as plain records for JSON (`tokensentry controls`): app, org_id (null for
    the roll-up over every org), control, verdict, suspected, reason, counts, window and the
    evidence rows, every time in ISO 8601 UTC."""
    from .records import iso_z

    def plain(value: Any) -> Any:
        if isinstance(value, datetime | pd.Timestamp):
            return iso_z(value)
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [plain(item) for item in value]
        return value

    return [
        {
            "app": row["app"], "org_id": row["org_id"], "scope": row["scope"],
            "control": row["control"], "control_name": row["control_name"],
            "verdict": row["verdict"], "suspected": bool(row["suspected"]),
            "reason": row["reason"], "counter_examples": int(row["counter_examples"]),
            "positive_evidence": int(row["positive_evidence"]),
            "window_start": iso_z(row["window_start"]), "window_end": iso_z(row["window_end"]),
            "evidence": plain(list(row["evidence"])),
        }
        for row in frame.to_dict(orient="records")
    ]  # fmt: skip
