"""`tokensentry export --format parquet DIR`: the store's events, alerts and incidents as
Parquet that Spark, Trino, Athena, BigQuery or another DuckDB read without tokensentry.

Layout (README "Export to Parquet" documents the columns):

    DIR/events/org_id=<org id>/day=<YYYY-MM-DD>/data_0.parquet   Hive-partitioned, incremental
    DIR/alerts/alerts.parquet                                    snapshot, with triage status
    DIR/incidents/incidents.parquet                              snapshot
    DIR/incident_alerts/incident_alerts.parquet                  snapshot: alert → incident
    DIR/_manifest.json                                           what each file holds

Incremental: the manifest records, per (org, day), the row count and a checksum of the rows
(DuckDB's `hash` of every column, xor-ed). A re-export writes only the partitions whose count
or checksum changed or that are new; a day the store no longer holds whole (pruned) is left as
exported, so the export can be the long-term archive of what retention drops. Snapshots are
rewritten when their checksum changes.

Files are zstd-compressed (1 M events: 69 MB against snappy's 118 MB; Spark, Trino, Athena
and BigQuery read it). Never half a partition: changed partitions are written by one
`COPY ... PARTITION_BY` into a staging folder inside DIR, then each file is moved into place
with `rename`, which replaces the old file of that partition atomically; the manifest is
replaced last. An export interrupted half-way leaves whole files only, and the next export
rewrites what the manifest does not vouch for. Only these tables are exported: raw rows never
leave the store (events are already scrubbed of secrets; alert texts and triage notes are
scrubbed again on the way out).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from . import db, private_files
from .errors import InputError, TokensentryError
from .prune import pruned_before
from .sqltext import quote_literal

MANIFEST = "_manifest.json"
FORMAT_VERSION = 1

PARTITIONS_SQL = """
SELECT org_id, CAST(occurred_at AS DATE) AS day, count(*) AS rows,
       CAST(bit_xor(hash(e)) AS VARCHAR) AS checksum, max(updated_at) AS updated_at
FROM events e GROUP BY ALL
"""

SNAPSHOTS = {
    "alerts": """
        SELECT a.* REPLACE (scrub_secrets(a.title) AS title, scrub_secrets(a.summary) AS summary,
                            CAST(scrub_secrets(CAST(a.evidence AS VARCHAR)) AS JSON) AS evidence),
               coalesce(t.status, 'new') AS status, t.analyst AS triage_analyst,
               scrub_secrets(t.note) AS triage_note, t.updated_at AS triaged_at,
               i.incident_id
        FROM alerts a LEFT JOIN triage t USING (alert_id)
        LEFT JOIN incident_alerts i USING (alert_id)
        ORDER BY a.alert_id""",
    "incidents": """
        SELECT * REPLACE (scrub_secrets(summary) AS summary) FROM incidents
        ORDER BY incident_id""",
    "incident_alerts": "SELECT * FROM incident_alerts ORDER BY alert_id",
}


@dataclass
class ExportReport:
    dir: str
    partitions_written: int = 0
    partitions_new: int = 0
    partitions_unchanged: int = 0
    partitions_kept_pruned: int = 0  # exported earlier, since pruned from the store: kept
    rows_written: int = 0
    snapshots_written: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def export(db_path: Path, out_dir: Path, *, now: datetime) -> ExportReport:
    """Bring DIR up to date with the store (see the module docstring)."""
    begun = time.perf_counter()
    if not db_path.exists():
        raise InputError(f"{db_path}: no database yet; nothing to export")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: not a folder")
    private_files.private_dir(out_dir)
    report = ExportReport(str(out_dir))
    with _export_lock(out_dir), db.connect(db_path, read_only=True) as con:
        con.execute("SET enable_progress_bar = false")
        manifest = _read_manifest(out_dir)
        checksum_kind = f"duckdb-hash/{duckdb.__version__}"
        previous = manifest.get("partitions", {})
        same_checksum = manifest.get("checksum") == checksum_kind
        current = {
            f"{org}/{day.isoformat()}": {
                "org_id": org,
                "day": day.isoformat(),
                "rows": rows,
                "checksum": checksum,
                "updated_at": updated_at.isoformat() if updated_at else None,
            }
            for org, day, rows, checksum, updated_at in con.execute(PARTITIONS_SQL).fetchall()
        }
        pruned = pruned_before(con)
        partitions, changed = _compare(
            out_dir,
            previous,
            current,
            same_checksum=same_checksum,
            pruned_day=pruned.date().isoformat() if pruned else None,
            now=now,
            report=report,
        )
        if changed:
            report.rows_written = _write_partitions(con, out_dir, changed)
            report.partitions_written = len(changed)
        snapshots = dict(manifest.get("snapshots", {})) if same_checksum else {}
        for name, sql in SNAPSHOTS.items():
            [(rows, checksum)] = con.execute(
                f"SELECT count(*), CAST(bit_xor(hash(s)) AS VARCHAR) FROM ({sql}) s"
            ).fetchall()
            target = out_dir / name / f"{name}.parquet"
            if snapshots.get(name) == {"rows": rows, "checksum": checksum} and target.exists():
                continue
            _write_file(con, sql, target)
            snapshots[name] = {"rows": rows, "checksum": checksum}
            report.snapshots_written.append(name)
        if changed or report.snapshots_written or not manifest:
            _write_manifest(
                out_dir,
                {
                    "format_version": FORMAT_VERSION,
                    "checksum": checksum_kind,
                    "exported_at": now.isoformat(),
                    "partitions": dict(sorted(partitions.items())),
                    "snapshots": snapshots,
                },
            )
    report.seconds = round(time.perf_counter() - begun, 3)
    return report


def _compare(
    out_dir: Path,
    previous: dict[str, dict],
    current: dict[str, dict],
    *,
    same_checksum: bool,
    pruned_day: str | None,
    now: datetime,
    report: ExportReport,
) -> tuple[dict[str, dict], list[dict]]:
    """The manifest's next partitions, and the partitions to write now."""
    partitions: dict[str, dict] = {}
    changed = []
    for key, entry in current.items():
        before = previous.get(key)
        if before and pruned_day is not None and entry["day"] < pruned_day:
            partitions[key] = before  # the export holds the day whole; the store no longer does
            report.partitions_kept_pruned += 1
        elif (
            before
            and same_checksum
            and (before["rows"], before["checksum"]) == (entry["rows"], entry["checksum"])
            and _partition_dir(out_dir, entry).is_dir()
        ):
            partitions[key] = before
            report.partitions_unchanged += 1
        else:
            partitions[key] = {**entry, "exported_at": now.isoformat()}
            changed.append(entry)
            report.partitions_new += before is None
    for key, before in previous.items():  # pruned from the store entirely: stays exported
        if key not in partitions:
            partitions[key] = before
            report.partitions_kept_pruned += 1
    return partitions, changed


def _partition_dir(out_dir: Path, entry: dict) -> Path:
    return out_dir / "events" / f"org_id={entry['org_id']}" / f"day={entry['day']}"


def _write_partitions(con: duckdb.DuckDBPyConnection, out_dir: Path, changed: list[dict]) -> int:
    """One partitioned COPY of the changed (org, day) pairs into a staging folder, then each
    file renamed over its partition's old one."""
    staging = out_dir / f".staging-{uuid.uuid4().hex[:12]}"
    con.execute("CREATE OR REPLACE TEMP TABLE export_changed (org_id VARCHAR, day DATE)")
    con.executemany(
        "INSERT INTO export_changed VALUES (?, ?)", [[c["org_id"], c["day"]] for c in changed]
    )
    try:
        con.execute(
            f"""COPY (
                    SELECT e.*, CAST(e.occurred_at AS DATE) AS day FROM events e
                    SEMI JOIN export_changed c
                        ON c.org_id = e.org_id AND c.day = CAST(e.occurred_at AS DATE)
                    ORDER BY e.occurred_at, e.event_id
                ) TO {quote_literal(str(staging))}
                (FORMAT parquet, PARTITION_BY (org_id, day), FILENAME_PATTERN 'data_{{i}}',
                 COMPRESSION zstd)"""
        )
        for folder, _dirs, files in os.walk(staging):
            if not files:
                continue
            final = out_dir / "events" / Path(folder).relative_to(staging)
            final.mkdir(parents=True, exist_ok=True)
            for name in sorted(files):
                os.replace(Path(folder) / name, final / name)
            for stale in set(os.listdir(final)) - set(files):  # a bigger day split in more files
                if stale.endswith(".parquet"):
                    (final / stale).unlink()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sum(c["rows"] for c in changed)


def _write_file(con: duckdb.DuckDBPyConnection, sql: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        con.execute(f"COPY ({sql}) TO {quote_literal(str(temporary))} (FORMAT parquet)")
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _read_manifest(out_dir: Path) -> dict:
    path = out_dir / MANIFEST
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{path}: unreadable export manifest ({exc}); move it away to re-export everything"
        ) from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{path}: written by another tokensentry version (format_version)")
    return manifest


def _write_manifest(out_dir: Path, manifest: dict) -> None:
    temporary = out_dir / f".{MANIFEST}.tmp"
    private_files.write_private(temporary, json.dumps(manifest, indent=1) + "\n")
    os.replace(temporary, out_dir / MANIFEST)


@contextlib.contextmanager
def _export_lock(out_dir: Path) -> Iterator[None]:
    """Two exports into one folder would race on the manifest: the second exits at once."""
    descriptor = os.open(out_dir / ".export.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TokensentryError(
                f"{out_dir}: another export into this folder is running"
            ) from None
        yield
    finally:
        os.close(descriptor)
