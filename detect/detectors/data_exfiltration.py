"""A session that read or exported far more, or far more kinds of records, than its app does.

Why it matters: the 2025 campaigns were data theft. UNC6395 ran `SELECT COUNT()` over a dozen
objects with stolen Drift tokens, then exported Case, Contact and Account through Bulk API 2.0
and deleted the jobs; UNC6040 pulled whole objects with a renamed Data Loader. A stolen token
that exports millions of rows raises the same network alerts as one that refreshed once; this
detector says what the token did and how much.

What it reads (`detect/api_reads.py`): rows per REST / SOAP call (RestApi and API
`ROWS_PROCESSED`) and per Bulk job counted once (BulkApi2 `RECORDS_PROCESSED`), the objects
ApiTotalUsage names, each row's app (logged, by connected app id, or the session's) and
session (`LOGIN_KEY`, else `SESSION_KEY`: no log names the refresh token). A query's later
REST pages take the object of the query they continue. Then, per session:

- **volume**: rows of an object in the session, or the (org, app, user)'s rows of it that day
  when the session read at least `day_share` of them, above the object's threshold: the
  largest of `min_rows`, `volume_factor` times the `baseline_quantile` of the (org, app, user,
  object)'s daily rows and median + `mad_k` x 1.4826 x MAD, over the user's active days in the
  last `history_days` (a day it read nothing of the object counts 0; the judged day is one of
  many and a high quantile ignores it). A partner's nightly export sets its own baseline. With
  fewer than `min_days` active days the threshold is `min_rows`. On the last
  `month_end_days` days of a month and its first day the threshold is `month_end_factor`
  times higher (month-end runs);
- **breadth**: `recon_entities` or more distinct objects within `breadth_minutes`, and more than
  `breadth_factor` times what the app's sessions in this org touch (their
  `baseline_quantile`, with at least `min_sessions` sessions): `COUNT()` or tiny queries over
  many objects is reconnaissance.

Severity: high; critical when an alert of `corroborating_detectors` (network, reuse, chain,
tooling) at medium or more names the same org, a shared address and the same user within a
day of the session;
low when every address of the session is the app's allowlisted or known egress (a backfill or
a new feature: theft from inside the partner's egress is chain_rejection's to see). The alert
names the objects and rows per object, objects this app never read in this org before, the
Bulk jobs, the time span and the session.

Blind spots: the free daily files (Login, Logout) carry no API rows at all: orgs without Event
Monitoring (API, RestApi, BulkApi2 and ApiTotalUsage are paid event types) are blind here,
and the blast radius says "no API logs" for them. ApiTotalUsage names calls and objects, not
rows. Real-Time Event Monitoring's ApiEvent adds the query text and `RowsProcessed` per call
within minutes, and LoginEvent the session's login; Composite requests log their parent only;
reads through Apex REST, reports and list views are not API rows. An export spread over many
sessions each under a day's threshold, or slowly over weeks, stays within the baseline.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from .. import api_reads
from ..detector import Context, Detector, Example, Finding
from ..read_baseline import FLAGGED_SQL, VOLUME_SQL
from ..testing import ALLOWED_IP, event, refresh

CORROBORATING = [
    "off_allowlist_ip", "new_network", "impossible_travel", "refresh_token_reuse",
    "chain_rejection", "suspicious_client",
]  # fmt: skip

DETAIL_SQL = """
SELECT k.org_id, coalesce(k.app, '') AS app_key, k.app, k.user_id, k.session, k.kind, k.entity,
       k.job_id, k.job_status, k.rows, k.first_at, k.last_at, k.ips, k.event_ids,
       fl.signals, fl.objects
FROM api_reads k
JOIN exfil_flagged fl
  ON fl.org_id = k.org_id AND fl.app_key = coalesce(k.app, '') AND fl.session = k.session
ORDER BY k.org_id, k.session, k.first_at
"""

OBJECTS_SQL = """
SELECT v.org_id, v.app_key, v.session, v.entity, v.rows, v.threshold, v.med, v.new_object
FROM exfil_volume v SEMI JOIN exfil_flagged f USING (org_id, app_key, session)
"""

CORROBORATION_SQL = """
SELECT alert_id, detector_id, severity FROM alerts
WHERE list_contains(?, detector_id) AND superseded_at IS NULL AND org_id = ?
  AND list_contains(['medium', 'high', 'critical'], severity)
  AND list_has_any(ips, ?) AND (user_id IS NULL OR user_id = ?)
  AND first_seen_at <= ? + INTERVAL 1 DAY AND last_seen_at >= ? - INTERVAL 1 DAY
ORDER BY alert_id
"""


def _params(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "quantile": s["baseline_quantile"], "min_days": s["min_days"], "min_rows": s["min_rows"],
        "volume_factor": s["volume_factor"], "mad_k": s["mad_k"],
        "month_end_days": s["month_end_days"], "month_end_factor": s["month_end_factor"],
        "breadth_minutes": s["breadth_minutes"], "recon_entities": s["recon_entities"],
        "breadth_factor": s["breadth_factor"], "min_sessions": s["min_sessions"],
        "day_share": s["day_share"], "unnamed": api_reads.UNNAMED,
    }  # fmt: skip


def _used(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters a statement names (DuckDB refuses unused named parameters)."""
    return {k: v for k, v in params.items() if f"${k}" in sql}


def _scope(ctx: Context) -> str:
    clauses = ["true"]
    if ctx.since is not None:
        clauses.append(f"k.last_at >= TIMESTAMP '{ctx.since.isoformat(sep=' ')}'")
    if ctx.changed_since is not None:
        # New reads, or a corroborating alert new since (the Login file that shows the
        # session's foreign refresh may land after its API files): re-judge the session.
        changed = f"TIMESTAMP '{ctx.changed_since.isoformat(sep=' ')}'"
        named = ctx.settings["corroborating_detectors"]
        detectors = ", ".join("'" + d.replace("'", "''") + "'" for d in named)
        clauses.append(
            f"(k.updated_at >= {changed} OR EXISTS (SELECT 1 FROM alerts a "
            f"WHERE a.org_id = k.org_id AND a.updated_at >= {changed} "
            f"AND list_contains([{detectors}], a.detector_id) AND list_has_any(a.ips, k.ips)))"
        )
    return " AND ".join(clauses)


def find(ctx: Context) -> list[Finding]:
    s = ctx.settings
    start = ctx.now - timedelta(days=s["history_days"])
    if ctx.since is not None:
        start = min(start, ctx.since - timedelta(days=s["history_days"]))
    if not api_reads.build(ctx.con, start, ctx.now + timedelta(days=1)):
        return []
    params = _params(s)
    try:
        ctx.con.execute(VOLUME_SQL, _used(VOLUME_SQL, params))
        flagged = FLAGGED_SQL.format(scope=_scope(ctx))
        ctx.con.execute(flagged, _used(flagged, params))
        details = ctx.rows(DETAIL_SQL)
        objects = ctx.rows(OBJECTS_SQL)
    finally:
        for table in ("exfil_flagged", "exfil_volume", "api_reads"):
            ctx.con.execute(f"DROP TABLE IF EXISTS {table}")
    verdicts: dict[tuple, dict[str, dict]] = defaultdict(dict)
    for row in objects:
        verdicts[(row["org_id"], row["app_key"], row["session"])][row["entity"]] = row
    sessions: dict[tuple, list[dict]] = defaultdict(list)
    for row in details:
        sessions[(row["org_id"], row["app_key"], row["session"])].append(row)
    return [_finding(ctx, key, reads, verdicts.get(key, {})) for key, reads in sessions.items()]


def _from_egress(ctx: Context, app: str | None, ips: list[str]) -> bool:
    if not ips or app is None:
        return False
    allowlists = {name.lower(): cfg.allowlist for name, cfg in ctx.config.apps.items()}
    allowlist = allowlists.get(app.lower())
    return all(
        (allowlist is not None and ip in allowlist) or ctx.known_egress.covers(ip, app)
        for ip in ips
    )


def _finding(ctx: Context, key: tuple, reads: list[dict], verdicts: dict[str, dict]) -> Finding:
    org_id, _, session = key
    app = reads[0]["app"]
    users = sorted({r["user_id"] for r in reads if r["user_id"]})
    ips = sorted({ip for r in reads for ip in r["ips"]})
    first = min(r["first_at"] for r in reads)
    last = max(r["last_at"] for r in reads)
    per_object: dict[str, int] = defaultdict(int)
    for r in reads:
        per_object[r["entity"]] += r["rows"]
    taken = sorted(per_object.items(), key=lambda kv: (-kv[1], kv[0]))
    jobs = [
        {"job_id": r["job_id"], "object": r["entity"], "rows": r["rows"],
         "status": r["job_status"], "first_at": r["first_at"].isoformat(),
         "last_at": r["last_at"].isoformat()}
        for r in reads if r["kind"] == "bulk"
    ]  # fmt: skip
    signals, breadth = reads[0]["signals"], reads[0]["objects"] or 0
    new_objects = sorted(e for e, v in verdicts.items() if v["new_object"] and v["rows"])
    over = sorted(e for e, v in verdicts.items() if v["rows"] > v["threshold"])
    corroborated = ctx.rows(
        CORROBORATION_SQL,
        [ctx.settings["corroborating_detectors"], org_id, ips, users[0] if users else None,
         last, first],
    )  # fmt: skip
    egress = _from_egress(ctx, app, ips)
    severity = "critical" if corroborated else "low" if egress else "high"
    total = sum(per_object.values())
    listed = ", ".join(f"{rows:,} {entity}" for entity, rows in taken[:6] if rows)
    what = [f"read {total:,} rows" + (f" ({listed})" if listed else "")]
    if jobs:
        what.append(f"in {len(jobs)} Bulk job(s)")
    if "breadth" in signals:
        what.append(f"touched {breadth} objects")
    minutes = max(1, round((last - first).total_seconds() / 60))
    why = []
    if over:
        why.append(f"{', '.join(over)} far above this user's baseline")
    if new_objects:
        why.append(f"never read by this app in this org before: {', '.join(new_objects)}")
    if "breadth" in signals:
        why.append("far more objects than this app's sessions touch (reconnaissance)")
    tail = (
        f" Also raised: {', '.join(sorted({c['detector_id'] for c in corroborated}))}."
        if corroborated
        else " Every address is the app's own egress (a backfill or a new feature?)."
        if egress
        else ""
    )
    who = f"user {users[0]}" if len(users) == 1 else f"{len(users)} users"
    return Finding(
        dedup_key=f"{org_id}|{session}",
        summary=(
            f"{ctx.org_label(org_id)}: {app or 'an unknown app'} as {who} "
            f"{' '.join(what)} in {minutes} min from {', '.join(ips) or 'no logged address'} "
            f"(session {session}): {'; '.join(why)}.{tail}"
        ),
        first_seen_at=first,
        last_seen_at=last,
        event_ids=[e for r in reads for e in r["event_ids"]],
        evidence={
            "session": session,
            "signals": list(signals),
            "rows_total": total,
            "objects": [
                {
                    "object": entity,
                    "rows": rows,
                    "threshold": round(verdicts[entity]["threshold"])
                    if entity in verdicts
                    else None,
                    "baseline_median": verdicts[entity]["med"] if entity in verdicts else None,
                    "new_to_app": entity in new_objects,
                }
                for entity, rows in taken
            ],
            "jobs": jobs,
            "breadth": breadth,
            "span": {"first": first.isoformat(), "last": last.isoformat()},
            "users": users,
            "from_egress": egress,
            "corroborated_by": [c["alert_id"] for c in corroborated],
        },
        org_id=org_id,
        app_name=app,
        user_id=users[0] if len(users) == 1 else None,
        ips=ips,
        severity=severity,  # type: ignore[arg-type]
    )


THIEF = "198.51.100.7"
NO_ALLOWLIST = {"Zenith CPQ": ["192.0.2.0/28"]}  # Acme Sync has none: no upstream alert


def read(at: str, entity: str | None, rows: int, *, key: str = "K-partner",
         ip: str = "198.51.100.20", **fields: Any) -> dict[str, Any]:  # fmt: skip
    """A RestApi query row in session `key`."""
    fields = {"event_type": "api_request", "sources": ["elf:RestApi"], "login_type": None,
              "status": "200", "operation": "GET", "login_key": key, "entity_name": entity,
              "rows_processed": rows, "source_ip": ip, **fields}  # fmt: skip
    return event(at, **fields)


def job(at: str, job_id: str, entity: str, rows: int, status: str, *, key: str = "K-thief",
        ip: str = THIEF) -> dict[str, Any]:  # fmt: skip
    """A BulkApi2 job-state row (one per state change)."""
    return event(at, event_type="api_request", sources=["elf:BulkApi2"], login_type=None,
                 status=None, operation="query", login_key=key, entity_name=entity,
                 job_id=job_id, job_status=status, rows_processed=rows, source_ip=ip,
                 app_name=None)  # fmt: skip


def nightly(days: range, rows: int = 50_000, *, ip: str = "198.51.100.20",
            month: str = "2026-11") -> list[dict[str, Any]]:  # fmt: skip
    """The partner's nightly export of Account, one session a night."""
    return [read(f"{month}-{d:02d}T01:30:00", "Account", rows + (d % 5) * 1000,
                 key=f"K-night-{month}-{d}", ip=ip) for d in days]  # fmt: skip


STOLEN_EXPORT = [
    *nightly(range(1, 15), rows=200),
    refresh("2026-11-20T02:59:00", THIEF, login_key="K-thief"),
    job("2026-11-20T03:01:00", "7505g000001AbCd", "Case", 0, "UploadComplete"),
    job("2026-11-20T03:04:00", "7505g000001AbCd", "Case", 600_000, "InProgress"),
    job("2026-11-20T03:09:00", "7505g000001AbCd", "Case", 1_200_000, "JobComplete"),
    job("2026-11-20T03:10:00", "7505g000001AbCd", "Case", 0, "Deleted"),
]

EXAMPLES = [
    Example("a stolen token exporting 1.2 M Cases through Bulk API 2.0 is high",
            STOLEN_EXPORT, expect=1, severity="high", apps=NO_ALLOWLIST),
    Example("...and critical when its session also refreshed from outside the allowlist",
            STOLEN_EXPORT, expect=1, severity="critical"),
    Example("REST paging: a query's later pages count for the object of its first page",
            [*nightly(range(1, 15), rows=200),
             read("2026-11-20T03:00:00", "Opportunity", 2000, key="K-thief", ip=THIEF),
             *(read(f"2026-11-20T03:{n // 60:02d}:{n % 60:02d}", None, 2000, key="K-thief",
                    ip=THIEF, uri=f"/services/data/v62.0/query/01gD0000000AbCd-{2000 * n}")
               for n in range(1, 40))],
            expect=1, severity="high", apps=NO_ALLOWLIST),
    Example("SELECT COUNT() over twelve objects within minutes is reconnaissance",
            [*nightly(range(1, 15), rows=200),
             *(read(f"2026-11-20T03:{n:02d}:00", obj, 1, key="K-thief", ip=THIEF)
               for n, obj in enumerate(["Account", "Contact", "Case", "Lead", "Opportunity",
                                        "User", "Task", "Event", "Campaign", "Contract",
                                        "Order", "Quote"]))],
            expect=1, severity="high", apps=NO_ALLOWLIST),
    Example("the partner's nightly exports of ~50 k Accounts set their own baseline",
            nightly(range(1, 28)), expect=0, apps=NO_ALLOWLIST),
    Example("a month-end run at 3.5x the nightly volume is within the month-end allowance",
            [*nightly(range(1, 30)), read("2026-11-30T01:30:00", "Account", 175_000,
                                          key="K-month-end")],
            expect=0, apps=NO_ALLOWLIST),
    Example("...but the same run in mid-month is far outside the baseline",
            [*nightly(range(1, 15)), *nightly(range(16, 30)),
             read("2026-11-15T01:30:00", "Account", 175_000, key="K-mid-month")],
            expect=1, severity="high", apps=NO_ALLOWLIST),
    Example("a backfill from the app's allowlisted egress is low",
            [*nightly(range(1, 15), rows=200, ip=ALLOWED_IP),
             read("2026-11-20T01:00:00", "Contact", 600_000, key="K-backfill", ip=ALLOWED_IP)],
            expect=1, severity="low"),
]  # fmt: skip

DETECTOR = Detector(
    id="data_exfiltration",
    title="Data read or exported far beyond the app's baseline",
    severity="high",
    description=__doc__ or "",
    find=find,
    examples=EXAMPLES,
    runbook="""\
1. Read the objects, rows per object, Bulk jobs, time span and session in the evidence; open
   the incident's blast radius for everything the same sessions, tokens and addresses read.
2. Critical (the session also raised a network, reuse or chain alert): treat it as a breach.
   Revoke the app's tokens for the user (Setup > Connected Apps OAuth Usage), freeze the user,
   and tell the subscriber which objects and how many records left: their notification clock
   may start now.
3. High: confirm with the partner whether the export was theirs (a new feature, a customer's
   request, a migration). If not, act as for critical.
4. Low (from the partner's own egress): a backfill or a new sync; mark it false_positive once
   the partner confirms. An export the partner did not run from its own egress means its
   infrastructure is compromised: escalate.
""",
    settings={
        "history_days": 30,
        "min_days": 7,
        "min_rows": 10_000,
        "baseline_quantile": 0.9,
        "volume_factor": 3.0,
        "mad_k": 6.0,
        "day_share": 0.25,
        "month_end_days": 3,
        "month_end_factor": 2.0,
        "breadth_minutes": 60,
        "recon_entities": 8,
        "breadth_factor": 2.0,
        "min_sessions": 20,
        "corroborating_detectors": CORROBORATING,
    },
    attack=("T1530", "T1213", "T1567"),  # data from cloud storage; from repositories; exfil
    needs="RestApi, API, BulkApi2 (rows), ApiTotalUsage (objects, app); Event Monitoring",
    reads_alerts=True,  # critical when the session's network / reuse / chain alerts exist
    history_setting="history_days",
)
