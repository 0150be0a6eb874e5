"""Bodies of the import / detect / alerts / triage commands: call the library, report."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest import db
from ingest.errors import InputError
from ingest.importer import FileOutcome, import_paths
from ingest.runs import new_run_id
from ingest.timeparse import now_utc

from .. import console as output
from .. import queries
from ..queries.blast_radius import blast_radius
from .alert_exports import EXPORT_FORMATS, export_records

if TYPE_CHECKING:
    from ..settings import Settings


def run_import(settings: Settings, paths: list[Path], org_id: str | None, fmt: str) -> int:
    err = output.stderr()
    show = fmt == "table"

    def report(outcome: FileOutcome) -> None:
        if not show:
            return
        r = outcome.result
        colour = {"ok": "green", "partial": "yellow", "failed": "red"}[outcome.status]
        detail = (
            outcome.error
            if outcome.error
            else f"{r.rows_read} rows, {r.rows_new} new, {r.rows_quarantined} quarantined, "
            f"events +{r.events_new} new / {r.events_enriched} enriched"
        )
        err.print(
            f"[{colour}]{outcome.status:7}[/] {output.markup_safe(outcome.path)}: "
            f"{output.markup_safe(detail)}",
            highlight=False,
        )

    with db.connect(settings.db) as con:
        run_id = new_run_id(now_utc())
        summary = import_paths(
            con, paths, org_id=org_id, run_id=run_id, now=now_utc, on_file=report
        )
        reasons = _quarantine_reasons(con, run_id)
    totals = summary.totals
    if fmt == "json":
        output.print_json(
            {
                "run_id": run_id,
                "files": [
                    {
                        "path": str(f.path),
                        "kind": f.kind,
                        "status": f.status,
                        "error": f.error,
                        **asdict(f.result),
                    }
                    for f in summary.files
                ],
                "totals": asdict(totals),
                "quarantine_reasons": reasons,
            }
        )
    else:
        failed = sum(1 for f in summary.files if f.status == "failed")
        err.print(
            f"{len(summary.files)} file(s): {totals.rows_read} rows read, {totals.rows_new} new, "
            f"{totals.rows_quarantined} quarantined, {failed} file(s) failed; "
            f"events +{totals.events_new} new, {totals.events_enriched} enriched.",
            highlight=False,
        )
        for reason, count in list(reasons.items())[:10]:
            err.print(f"  quarantined {count}×: {output.markup_safe(reason)}", highlight=False)
        if totals.rows_quarantined:
            err.print("  see them: SELECT origin, line, reason FROM quarantine", highlight=False)
    return 1 if summary.failed else 0


def _quarantine_reasons(con, run_id: str) -> dict[str, int]:
    rows = con.execute(
        "SELECT reason, count(*) FROM quarantine WHERE run_id = ? GROUP BY ALL ORDER BY 2 DESC",
        [run_id],
    ).fetchall()
    return {reason: count for reason, count in rows}


def run_ingest(settings: Settings, aliases: list[str], since: datetime | None, fmt: str) -> int:
    from ingest import ingestion

    from ..progress import IngestProgress

    config = settings.load_config()
    with db.connect(settings.db) as con, IngestProgress(enabled=fmt == "table") as progress:
        summary = ingestion.run(
            con,
            config,
            run_id=new_run_id(now_utc()),
            now=now_utc,
            aliases=aliases,
            since=since,
            on_event=progress.update,
        )
    if fmt == "json":
        output.print_json(
            {
                "run_id": summary.run_id,
                "units": [
                    {
                        "org": u.alias,
                        "source": u.source,
                        "org_id": u.org_id,
                        "status": u.status,
                        "error": u.error,
                        "seconds": round(u.seconds, 3),
                        **asdict(u.result),
                        "notes": [
                            {"kind": n.kind, "message": n.message, **n.details} for n in u.notes
                        ],
                    }
                    for u in summary.units
                ],
                "notes": summary.notes,
            }
        )
    elif summary.notes:
        for note in summary.notes:
            output.stderr().print(f"note: {note}", markup=False, highlight=False)
    return 1 if summary.failed else 0


def run_detect(
    settings: Settings, since: datetime | None, detectors: list[str], rescan_all: bool, fmt: str
) -> int:
    from detect import runner

    config = settings.load_config()
    with db.connect(settings.db) as con:
        summary = runner.run(
            con,
            config,
            run_id=new_run_id(now_utc()),
            now=now_utc,
            detector_ids=detectors,
            since=since,
            rescan_all=rescan_all,
        )
        # The Apps and Controls pages read these instead of scanning 30 days of events.
        queries.refresh_rollups(con, config, now=now_utc())
    if fmt == "json":
        output.print_json(
            {"run_id": summary.run_id, "detectors": [asdict(d) for d in summary.detectors]}
        )
    else:
        err = output.stderr()
        for d in summary.detectors:
            colour = "green" if d.status == "ok" else "red"
            detail = d.error or (
                f"{d.findings} finding(s): {d.alerts_new} new alert(s), "
                f"{d.alerts_updated} updated ({d.seconds:.2f} s)"
            )
            err.print(
                f"[{colour}]{d.status:6}[/] {d.detector_id}: {output.markup_safe(detail)}",
                highlight=False,
            )
    return 1 if summary.failed else 0


def list_alerts(
    settings: Settings,
    fmt: str,
    detectors: list[str],
    statuses: list[str],
    since: datetime | None,
    min_severity: str | None,
    *,
    include_superseded: bool = False,
) -> int:
    if not settings.db.exists():
        raise InputError(f"{settings.db}: no database yet; run `tokensentry demo` or `import`")
    with db.connect(settings.db, read_only=True) as con:
        frame = queries.alerts(
            con,
            detectors=detectors,
            statuses=statuses,
            since=since,
            min_severity=min_severity,
            include_superseded=include_superseded,
        )
    records = queries.alert_records(frame)
    if fmt in EXPORT_FORMATS:  # ocsf, ndjson: dashboard/cli/alert_exports.py
        return export_records(settings, records, fmt, "alerts")
    return _show(
        records, fmt, "alerts", output.alerts_csv, output.alerts_table, output.alerts_plain
    )


def list_incidents(
    settings: Settings,
    fmt: str,
    detectors: list[str],
    statuses: list[str],
    since: datetime | None,
    min_severity: str | None,
) -> int:
    if not settings.db.exists():
        raise InputError(f"{settings.db}: no database yet; run `tokensentry demo` or `import`")
    order = ("info", "low", "medium", "high", "critical")
    filters = queries.Filters(
        detectors=detectors,
        statuses=statuses,
        start=since,
        severities=order[order.index(min_severity) :] if min_severity else (),
    )
    with db.connect(settings.db, read_only=True) as con:
        records = queries.incident_records(queries.incidents(con, filters))
        if fmt in ("json", "native-ndjson"):  # what its sessions and addresses read, with coverage
            config = settings.load_config()
            for record in records:
                record["blast_radius"] = blast_radius(con, record["incident_id"], config)
    if fmt in EXPORT_FORMATS:
        return export_records(settings, records, fmt, "incidents")
    return _show(
        records,
        fmt,
        "incidents",
        lambda rows: queries.rows_csv(rows, output.INCIDENT_FIELDS),
        output.incidents_table,
        output.incidents_plain,
    )


def _show(
    records: list[dict[str, Any]],
    fmt: str,
    what: str,
    as_csv: Callable[[list[dict[str, Any]]], str],
    as_table: Callable[[list[dict[str, Any]]], Any],
    as_plain: Callable[[list[dict[str, Any]]], str],
) -> int:
    """Records on stdout: JSON, CSV, a table on a terminal, plain lines in a pipe."""
    if fmt == "json":
        output.print_json(records)
    elif fmt == "csv":
        sys.stdout.write(as_csv(records))
    elif not records:
        output.stderr().print(f"no {what} match")
    elif sys.stdout.isatty():
        output.stdout().print(as_table(records))
    else:
        sys.stdout.write(as_plain(records))
    return 0


def set_triage(
    settings: Settings,
    target_ids: list[str],
    status: str,
    note: str | None,
    analyst: str | None,
    only_alert: bool = False,
) -> int:
    with db.connect(settings.db) as con:
        changes = queries.triage(
            con,
            target_ids,
            status,
            note=note,
            analyst=analyst or getpass.getuser(),
            now=now_utc(),
            kind="alert" if only_alert else "auto",
            via="cli",
        )
    err = output.stderr()
    for change in changes:
        if change.note_only:
            output.message(
                err, "{} {}: already {}; note recorded", change.target_kind, change.target_id,
                change.from_status,
            )  # fmt: skip
        elif change.incident_id is None:
            output.message(
                err, "{} {}: {} → {}", change.target_kind, change.target_id,
                change.from_status, status,
            )  # fmt: skip
    if not changes:
        output.message(err, "already {}: nothing changed, nothing recorded", status)
    return 0
