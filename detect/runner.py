"""`tokensentry detect`: run each detector, upsert its alerts, record one run row per detector.

Alerts are keyed by md5(detector, dedup_key), so re-detecting the same finding updates the
same alert: its first/last seen widen, its events are the union, its severity never silently
drops, and the analyst's triage (a separate table) is never touched. A detector that raises is
recorded as failed with its error and the others still run; the command then exits 1.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import pyarrow as pa

from ingest import crash_hook, runs
from ingest.config import Config
from ingest.errors import ConfigError

from . import egress, incidents, lifecycle, owners, registry
from .attribution import AttributionOutcome
from .attribution import run as attribute_apps
from .detector import SEVERITIES, Context, Detector, Finding, severity_rank

ALERT_COLUMNS = (
    "alert_id", "detector_id", "dedup_key", "severity", "org_id", "app_name", "user_id", "ips",
    "first_seen_at", "last_seen_at", "event_count", "event_ids", "title", "summary", "evidence",
    "first_run_id", "last_run_id", "created_at", "updated_at", "reopens_alert_id", "superseded_at",
)  # fmt: skip


def _arrow_type(column: str) -> pa.DataType:
    if column in ("ips", "event_ids"):
        return pa.list_(pa.string())
    if column.endswith("_at"):  # superseded_at is written NULL: found again, it holds again
        return pa.timestamp("us")
    return pa.int64() if column == "event_count" else pa.string()


ALERT_SCHEMA = pa.schema([(column, _arrow_type(column)) for column in ALERT_COLUMNS])


@dataclass
class DetectorOutcome:
    detector_id: str
    status: str  # ok | failed
    findings: int = 0
    alerts_new: int = 0
    alerts_updated: int = 0
    seconds: float = 0.0
    error: str | None = None
    superseded: int = 0


@dataclass
class DetectSummary:
    run_id: str
    detectors: list[DetectorOutcome] = field(default_factory=list)
    attribution: AttributionOutcome | None = None
    owners: owners.OwnersOutcome | None = None
    incidents: incidents.IncidentOutcome | None = None

    @property
    def failed(self) -> bool:
        attributed = self.attribution is None or self.attribution.status == "ok"
        attributed = attributed and (self.owners is None or self.owners.status == "ok")
        grouping_failed = self.incidents is not None and self.incidents.status != "ok"
        return (
            not attributed
            or grouping_failed
            or any(outcome.status != "ok" for outcome in self.detectors)
        )


def alert_id(detector_id: str, dedup_key: str) -> str:
    return hashlib.md5(f"{detector_id}|{dedup_key}".encode()).hexdigest()[:20]


def run(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    *,
    run_id: str,
    now: Callable[[], datetime],
    detector_ids: Sequence[str] = (),
    since: datetime | None = None,
    rescan_all: bool = False,
    clock: Callable[[], float] | None = None,
) -> DetectSummary:
    """Run the chosen detectors (all by default).

    Scope: `since` scans events that occurred since then; `rescan_all` scans everything;
    neither scans what was loaded or enriched since the detector's last successful run, which
    catches late-arriving rows (hourly ELF files land 3-6 h after the fact).
    """
    ticker = clock or time.perf_counter
    registry.check_config(config)
    catalog = registry.by_id()
    unknown = [d for d in detector_ids if d not in catalog]
    if unknown:
        raise ConfigError(
            f"--detector {', '.join(unknown)}: no such detector (known: {', '.join(catalog)})"
        )
    chosen = [catalog[d] for d in detector_ids] if detector_ids else list(catalog.values())
    chosen.sort(key=lambda d: d.reads_alerts)  # correlations read the alerts of this run
    summary = DetectSummary(run_id=run_id)
    _preload({name for detector in chosen for name in detector.slow_imports})
    # Logins the logs left app-less get their inferred app before any detector reads them.
    summary.attribution = attribute_apps(con, run_id=run_id, now=now())
    # Each new address gets its owner (AS, provider, region, Tor) once, before anyone judges it.
    summary.owners = owners.run(con, config.geoip, run_id=run_id, now=now())
    known = egress.load(con, config, now())
    for detector in chosen:
        started = now()
        changed_since = None
        if since is None and not rescan_all:
            changed_since = runs.last_finished(con, "detect", detector.id)
        context = Context(
            con=con,
            config=config,
            settings=registry.settings_for(detector, config.detectors.get(detector.id)),
            now=started,
            since=since - detector.lookback if since is not None else None,
            changed_since=changed_since,
            known_egress=known,
        )
        runs.start(con, run_id=run_id, stage="detect", unit_id=detector.id, now=started)
        crash_hook.after_commit()  # crash tests stop here (no-op unless asked)
        tick = ticker()
        outcome = _run_one(con, detector, context, run_id=run_id, now=started, full_scan=rescan_all)
        outcome.seconds = ticker() - tick
        runs.finish(
            con,
            run_id=run_id,
            stage="detect",
            unit_id=detector.id,
            status=outcome.status,
            now=now(),
            rows_read=outcome.findings,
            rows_new=outcome.alerts_new,
            error=outcome.error,
            details={
                "alerts_updated": outcome.alerts_updated,
                "alerts_superseded": outcome.superseded,
                "seconds": round(outcome.seconds, 3),
            },
        )
        summary.detectors.append(outcome)
    summary.incidents = incidents.run(con, config, known, run_id=run_id, now=now, clock=ticker)
    return summary


def _preload(modules: set[str]) -> None:
    """Import `modules` in a background thread: DuckDB releases the GIL while it runs a query,
    so the import overlaps attribution and the SQL detectors instead of adding to them."""

    def load() -> None:
        for name in sorted(modules):
            # A module that fails to load fails again, and is reported, in the detector's find.
            with contextlib.suppress(Exception):
                importlib.import_module(name)

    if modules:
        threading.Thread(target=load, name="detect-preload", daemon=True).start()


def _run_one(
    con: duckdb.DuckDBPyConnection,
    detector: Detector,
    context: Context,
    *,
    run_id: str,
    now: datetime,
    full_scan: bool = False,
) -> DetectorOutcome:
    try:
        findings = detector.find(context)
        new, updated, written = upsert_alerts(
            con, detector, findings, run_id=run_id, now=now, regrade=full_scan
        )
        superseded = 0
        if full_scan:  # the findings are the detector's whole verdict
            horizon = detector.horizon(context.settings)
            superseded = lifecycle.supersede_missing(
                con, detector.id, written, run_id=run_id, now=now, horizon=horizon
            )
    except Exception as exc:  # recorded and surfaced (exit 1), never swallowed
        detail = "".join(traceback.format_exception_only(exc)).strip()
        return DetectorOutcome(detector.id, "failed", error=f"detector {detector.id}: {detail}")
    return DetectorOutcome(detector.id, "ok", len(findings), new, updated, superseded=superseded)


def upsert_alerts(
    con: duckdb.DuckDBPyConnection,
    detector: Detector,
    findings: Iterable[Finding],
    *,
    run_id: str,
    now: datetime,
    regrade: bool = False,
) -> tuple[int, int, list[str]]:
    """Write findings as alerts; return (new, updated, the alert ids the findings hold).

    `regrade` (a full scan) lets an untriaged alert take the detector's current severity.
    New activity on a resolved / false-positive alert goes to a linked new alert
    (`detect.lifecycle`)."""
    merged: dict[str, Finding] = {}
    for finding in findings:
        key = alert_id(detector.id, finding.dedup_key)
        merged[key] = _combine(merged[key], finding) if key in merged else finding
    if not merged:
        return 0, 0, []
    existing = lifecycle.stored(con, merged)
    known_owners = owners.owners_of(con, sorted({ip for f in merged.values() for ip in f.ips}))
    ranks = {s: severity_rank(s) for s in SEVERITIES}
    rows, new, held = [], 0, []
    for key, finding in merged.items():
        target, old, reopens = key, existing.get(key), None
        event_ids, ips = set(finding.event_ids), {ip for ip in finding.ips if ip}
        first_seen, last_seen = finding.first_seen_at, finding.last_seen_at
        if old is not None and old.closed:
            target, old, closed, judged = lifecycle.open_target(con, old)
            fresh = event_ids - judged
            if not fresh:  # nothing the analyst has not already judged
                held.extend([target] if old is not None else [])
                continue
            reopens, event_ids = closed.alert_id, fresh
            span = lifecycle.event_span(con, fresh)
            if span is not None:
                first_seen, last_seen = span
        severity = lifecycle.merge_severity(
            finding.severity or detector.severity, old, regrade=regrade, rank=ranks
        )
        created_at, first_run = now, run_id
        if old is not None:
            created_at, first_run = old.created_at, old.first_run_id
            reopens = reopens or old.reopens_alert_id
            if not (regrade and old.untriaged):  # a full scan's verdict replaces, else widen
                first_seen, last_seen = (
                    min(first_seen, old.first_seen_at),
                    max(last_seen, old.last_seen_at),
                )
                event_ids |= set(old.event_ids)
                ips |= set(old.ips)
        else:
            new += 1
        summary, evidence = finding.summary, dict(finding.evidence)
        if any(ip in known_owners for ip in finding.ips):  # who owns each address it cites
            evidence["ip_owners"] = {ip: known_owners[ip] for ip in sorted(finding.ips)
                                     if ip in known_owners}  # fmt: skip
        if reopens is not None:
            summary = f"Again after an analyst closed alert {reopens}: {summary}"
            evidence["reopens_alert_id"] = reopens
        rows.append(
            [
                target,
                detector.id,
                finding.dedup_key,
                severity,
                finding.org_id,
                finding.app_name,
                finding.user_id,
                sorted(ips),
                first_seen,
                last_seen,
                len(event_ids),
                sorted(event_ids),
                detector.title,
                summary,
                json.dumps(evidence, default=str, sort_keys=True),
                first_run,
                run_id,
                created_at,
                now,
                reopens,
                None,
            ]
        )
    if not rows:
        return 0, 0, held
    con.register(
        "alert_rows",
        pa.table(
            {column: [row[i] for row in rows] for i, column in enumerate(ALERT_COLUMNS)},
            schema=ALERT_SCHEMA,
        ),
    )
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            f"""INSERT INTO alerts ({", ".join(ALERT_COLUMNS)})
            SELECT {", ".join(ALERT_COLUMNS)} FROM alert_rows
            ON CONFLICT (alert_id) DO UPDATE SET
                severity = excluded.severity, ips = excluded.ips,
                first_seen_at = excluded.first_seen_at, last_seen_at = excluded.last_seen_at,
                event_count = excluded.event_count, event_ids = excluded.event_ids,
                summary = excluded.summary, evidence = excluded.evidence,
                last_run_id = excluded.last_run_id, updated_at = excluded.updated_at,
                reopens_alert_id = excluded.reopens_alert_id,
                superseded_at = NULL, superseded_by_run = NULL"""
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("alert_rows")
    return new, len(rows) - new, [row[0] for row in rows] + held


def _combine(a: Finding, b: Finding) -> Finding:
    """Two findings with one dedup key in one scan (a detector emitting per chunk)."""
    return Finding(
        dedup_key=a.dedup_key,
        summary=b.summary,
        first_seen_at=min(a.first_seen_at, b.first_seen_at),
        last_seen_at=max(a.last_seen_at, b.last_seen_at),
        event_ids=sorted(set(a.event_ids) | set(b.event_ids)),
        evidence={**a.evidence, **b.evidence},
        org_id=a.org_id,
        app_name=a.app_name,
        user_id=a.user_id if a.user_id == b.user_id else None,
        ips=sorted(set(a.ips) | set(b.ips)),
        severity=max(a.severity or "info", b.severity or "info", key=severity_rank)
        if (a.severity or b.severity)
        else None,
    )
