"""Retention: drop raw rows and events older than N days, and give the space back to the disk.

What goes: `raw_records` and `raw_elf` rows, and `events`, that occurred before the cutoff (the
start of the UTC day N days ago), and `quarantine` entries (rejected rows' raw text) written
before it. What stays whatever its age:

- alerts, incidents, triage, the audit trail, known egress, runs, digests: every table but the
  four above is copied whole (an up-to-date egress roll-up keeps the pruned days' totals);
- the evidence alerts cite: every event in any alert's `event_ids` (the runner's citation of
  what a finding rests on, the previous login of an impossible-travel pair included);
- state that only its newest row carries: the newest raw row of each org × source (the ingest
  cursor resumes from it; the org's time zone is its newest Organization row), the first
  Hourly EventLogFile listing of each org × event type (from that day on daily files are not
  read), and the latest snapshot of every refresh token (idle_token measures idleness from it).

DuckDB never shrinks its file on DELETE, so pruning is a rewrite: the kept rows are copied
into a new file beside the store (`<db>.prune-new`), which then replaces the store with one
`rename`. The store is attached read-only meanwhile: readers (the dashboard) go on reading,
writers (a triage) get DuckDB's "in use" answer and retry, so no write can land in the old file
after the copy started. A rewrite interrupted at any point leaves the store as it was; the
half-written copy is removed by the next prune. The caller holds the nightly lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from . import db, private_files
from .errors import InputError, TokensentryError
from .runs import new_run_id
from .sqltext import quote_ident, quote_literal

STAGE = "prune"
UNIT = "store"

# Rows of the pruned tables that stay whatever their age. Built in the rewrite's own
# in-memory database, from the store attached as `src`.
KEEP_SQL = """
CREATE OR REPLACE TEMP TABLE keep_events AS
SELECT DISTINCT event_id FROM (
    SELECT unnest(event_ids) AS event_id FROM src.alerts
    UNION ALL  -- each refresh token's latest snapshot: by last use and by when it was read
    SELECT arg_max(event_id, occurred_at) FROM src.events
    WHERE event_type = 'token_usage' GROUP BY org_id, app_name, user_id, token_created_at
    UNION ALL
    SELECT arg_max(event_id, ingested_at) FROM src.events
    WHERE event_type = 'token_usage' GROUP BY org_id, app_name, user_id, token_created_at
);
CREATE OR REPLACE TEMP TABLE keep_raw AS
SELECT DISTINCT org_id, source_id, record_id FROM (
    SELECT org_id, source_id, arg_max(record_id, coalesce(occurred_at, fetched_at)) AS record_id
    FROM src.raw_records GROUP BY org_id, source_id
    UNION ALL
    SELECT org_id, source_id, arg_min(record_id, payload->>'LogDate')
    FROM src.raw_records
    WHERE source_id = 'soql:EventLogFile' AND payload->>'Interval' = 'Hourly'
    GROUP BY org_id, source_id, payload->>'EventType'
);
"""

# Each pruned table: its rows (alias `r`), whether a row is recent, whether it stays.
PRUNED = {
    "events": (
        "src.events r",
        "r.occurred_at >= $cutoff",
        "r.event_id IN (SELECT event_id FROM keep_events)",
    ),
    "raw_records": (
        "src.raw_records r LEFT JOIN keep_raw k USING (org_id, source_id, record_id)",
        "coalesce(r.occurred_at, r.fetched_at) >= $cutoff",
        "k.record_id IS NOT NULL",
    ),
    "raw_elf": ("src.raw_elf r", "coalesce(r._occurred_at, r._fetched_at) >= $cutoff", "false"),
    # Rejected rows keep their raw text: they age like the raw rows they failed to become.
    "quarantine": ("src.quarantine r", "r.quarantined_at >= $cutoff", "false"),
}


@dataclass
class TableCount:
    table: str
    rows: int
    deleted: int
    kept_old: int = 0  # older than the cutoff but kept (cited evidence, state rows)


@dataclass
class PruneReport:
    db: str
    retention_days: int
    cutoff: datetime
    dry_run: bool
    tables: list[TableCount] = field(default_factory=list)
    bytes_before: int = 0
    bytes_after: int | None = None
    seconds: float = 0.0

    @property
    def deleted(self) -> int:
        return sum(t.deleted for t in self.tables)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["cutoff"] = self.cutoff.isoformat()
        out["deleted"] = self.deleted
        return out


def cutoff_for(now: datetime, days: int) -> datetime:
    """The start of the UTC day `days` days before `now`: whole days go, never half of one (a
    Parquet export partitioned by day then sees a day either complete or gone)."""
    day = (now - timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day)


def check_retention(days: int, minimum: int, reason: str, key: str = "--older-than") -> None:
    """Refuse a retention that would starve a detector of the history it reads."""
    if days < minimum:
        raise InputError(
            f"{key} {days}: too short; the detectors need at least {minimum} days of "
            f"events ({reason}); keep {minimum} days or more"
        )


def new_path(db_path: Path) -> Path:
    """Where the rewrite builds the pruned copy: beside the store, so the swap is a rename."""
    return db_path.with_name(db_path.name + ".prune-new")


def wal_path(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def plan(db_path: Path, *, days: int, now: datetime) -> PruneReport:
    """What a prune would delete, without changing anything (`--dry-run`)."""
    cutoff = cutoff_for(now, days)
    begun = time.perf_counter()
    report = PruneReport(str(db_path), days, cutoff, True, bytes_before=_size(db_path))
    with _attached(db_path) as con:
        report.tables = _counts(con, cutoff)
    report.seconds = round(time.perf_counter() - begun, 3)
    return report


def prune(db_path: Path, *, days: int, now: datetime) -> PruneReport:
    """Rewrite the store without the rows past retention; swap it in atomically.

    Raises InputError (nothing changed) when there is not enough free disk for the copy or the
    store changed under the rewrite."""
    begun = time.perf_counter()
    cutoff = cutoff_for(now, days)
    target = new_path(db_path)
    _remove(target)  # a copy an interrupted prune left behind
    _checkpoint(db_path)  # fold the WAL in: the copy must miss nothing, and no WAL may outlive it
    before = _size(db_path)
    report = PruneReport(str(db_path), days, cutoff, False, bytes_before=before)
    _check_disk(db_path, before)
    try:
        with _attached(db_path) as con:
            if wal_path(db_path).exists():  # a writer slipped in between checkpoint and attach
                raise InputError(
                    f"{db_path}: the store was written to while the prune started; nothing was "
                    "changed, run it again"
                )
            report.tables = _counts(con, cutoff)
            _copy(con, target, cutoff)
            _record(con, report, now)
            con.execute("CHECKPOINT fresh")
            con.execute("DETACH fresh")
            if wal_path(target).exists():
                raise TokensentryError(f"{target}: the copy was not fully written")
            private_files.make_private(target)
            _fsync(target)
            os.replace(target, db_path)  # while `src` still blocks writers: nothing is lost
            _fsync(db_path.parent)
    except BaseException:
        _remove(target)
        raise
    report.bytes_after = _size(db_path)
    report.seconds = round(time.perf_counter() - begun, 3)
    return report


def pruned_before(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """The newest cutoff a prune applied: events before it are gone unless an alert cites them.

    Lifecycle re-grading reads it, so `detect --all` never supersedes an alert only because the
    events behind it were pruned."""
    row = con.execute(
        "SELECT max(CAST(details->>'cutoff' AS TIMESTAMP)) FROM runs "
        "WHERE stage = ? AND unit_id = ? AND status = 'ok'",
        [STAGE, UNIT],
    ).fetchone()
    return row[0] if row else None


# -- internals --------------------------------------------------------------------------------


@contextlib.contextmanager
def _attached(db_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory connection with the store attached read-only as `src`: other processes
    may read the store meanwhile, none may write it."""
    if not db_path.exists():
        raise InputError(f"{db_path}: no database yet; nothing to prune")
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET enable_progress_bar = false")
        limit = os.environ.get("TOKENSENTRY_DUCKDB_MEMORY")
        if limit:
            con.execute("SET memory_limit = ?", [limit])
        con.execute(
            "SET temp_directory = ?", [str(private_files.private_dir(db.spill_dir(db_path)))]
        )
        try:
            con.execute(f"ATTACH {quote_literal(str(db_path))} AS src (READ_ONLY)")
        except duckdb.IOException as exc:
            raise TokensentryError(
                f"{db_path}: the database is in use by another tokensentry process; retry when "
                f"it has finished ({str(exc).splitlines()[0]})"
            ) from None
        con.execute(KEEP_SQL)
        yield con
    finally:
        con.close()
        with contextlib.suppress(OSError):
            db.spill_dir(db_path).rmdir()


def _counts(con: duckdb.DuckDBPyConnection, cutoff: datetime) -> list[TableCount]:
    counts = []
    for table, (rows, recent, kept) in PRUNED.items():
        [(total, new, old_kept)] = con.execute(
            f"""SELECT count(*), count(*) FILTER (WHERE {recent}),
                       count(*) FILTER (WHERE NOT ({recent}) AND ({kept}))
                FROM {rows}""",
            {"cutoff": cutoff},
        ).fetchall()
        counts.append(TableCount(table, total, total - new - old_kept, old_kept))
    return counts


def _copy(con: duckdb.DuckDBPyConnection, target: Path, cutoff: datetime) -> None:
    """Every table, view and macro of the store into `target`; the pruned tables filtered."""
    # One thread: parallel appends write row groups that the commit then merges, leaving their
    # first blocks free inside the new file (1 M events: 105 MB with 23 MB free on two threads,
    # 81 MB with none on one, and faster).
    con.execute("SET threads = 1")
    con.execute(f"ATTACH {quote_literal(str(target))} AS fresh")
    con.execute("COPY FROM DATABASE src TO fresh (SCHEMA)")
    con.execute("BEGIN TRANSACTION")
    tables = [
        row[0]
        for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src' "
            "AND schema_name = 'main' ORDER BY table_name"
        ).fetchall()
    ]
    for table in tables:
        name = quote_ident(table)
        if table in PRUNED:
            rows, recent, kept = PRUNED[table]
            con.execute(
                f"INSERT INTO fresh.main.{name} BY NAME "
                f"SELECT r.* FROM {rows} WHERE ({recent}) OR ({kept})",
                {"cutoff": cutoff},
            )
        else:
            con.execute(f"INSERT INTO fresh.main.{name} BY NAME SELECT * FROM src.main.{name}")
    if "rollup_state" in tables:
        # A roll-up that had read every event keeps its totals of the pruned days (the Apps
        # page's egress history per org × app × address × day): it is marked as having read
        # the events left, instead of being rebuilt from them without those days.
        con.execute(
            """UPDATE fresh.main.rollup_state SET events_through = now_mark.through,
                   events_count = now_mark.n
               FROM (SELECT max(updated_at) AS through, count(*) AS n FROM fresh.main.events)
                        now_mark,
                    (SELECT max(updated_at) AS through, count(*) AS n FROM src.main.events)
                        old_mark
               WHERE rollup_state.events_through IS NOT DISTINCT FROM old_mark.through
                 AND rollup_state.events_count = old_mark.n"""
        )
    con.execute("COMMIT")


def _record(con: duckdb.DuckDBPyConnection, report: PruneReport, now: datetime) -> None:
    """The prune's own row in the new store's `runs`: what went, and the cutoff re-grading
    honours (`pruned_before`)."""
    details = {
        "cutoff": report.cutoff.isoformat(),
        "retention_days": report.retention_days,
        "bytes_before": report.bytes_before,
        "deleted": {t.table: t.deleted for t in report.tables},
        "kept_older": {t.table: t.kept_old for t in report.tables},
    }
    con.execute(
        """INSERT INTO fresh.runs (run_id, stage, unit_id, started_at, finished_at, status,
               rows_read, rows_new, details)
           VALUES (?, ?, ?, ?, ?, 'ok', ?, 0, ?)""",
        [
            new_run_id(now),
            STAGE,
            UNIT,
            now,
            now,
            sum(t.rows for t in report.tables),
            json.dumps(details),
        ],
    )


def _checkpoint(db_path: Path) -> None:
    if not db_path.exists():
        raise InputError(f"{db_path}: no database yet; nothing to prune")
    with db.connect(db_path) as con:  # applies pending migrations too: the copy is current
        con.execute("CHECKPOINT")


def _check_disk(db_path: Path, needed: int) -> None:
    """The copy can be as large as the store (nothing old enough to prune): refuse unless the
    store's file system has that much free, plus a margin for DuckDB's spill files."""
    free = shutil.disk_usage(db_path.parent).free
    margin = 64 * 2**20
    if free < needed + margin:
        raise InputError(
            f"{db_path.parent}: {_mb(free)} free, the pruned copy of {db_path.name} needs up to "
            f"{_mb(needed + margin)}; free some space (or move the store) and run it again; "
            "nothing was changed"
        )


def _size(path: Path) -> int:
    total = 0
    for candidate in (path, wal_path(path)):
        with contextlib.suppress(FileNotFoundError):
            total += candidate.stat().st_size
    return total


def _mb(size: int) -> str:
    return f"{size / 2**20:,.1f} MB"


def _remove(path: Path) -> None:
    for candidate in (path, wal_path(path)):
        with contextlib.suppress(FileNotFoundError):
            candidate.unlink()


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
