"""`tokensentry ingest`: pull every configured org's sources into the store, incrementally.

Orgs are fetched in parallel by a bounded pool of threads; every write happens on the calling
thread, one short transaction per page or file, so DuckDB keeps a single writer and a crash
loses at most the batch in flight. Each org × source resumes from its cursor (the newest row it
stored) minus a lag window, and keyed writes drop what is read twice. One org's failure is
recorded with its reason and the others complete.
"""

from __future__ import annotations

import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from . import crash_hook, retention, runs
from .config import Config, OrgConfig
from .errors import InputError
from .fetching import Message, Stopped, fetch_org
from .formats import elf_csv, redact
from .load import BatchResult, Loader
from .source import ElfFile, Notice, RecordBatch, WindowDone, all_sources

FAILED = ("failed", "limit_exceeded", "skipped")
NOTHING_TO_PULL = (
    "nothing to pull: every configured org is import-only (an org_id without instance_url / "
    "auth, CONTRACT §8); load their exported logs with `tokensentry import`, or give an org "
    "its connection settings (README: Connect a real org)"
)


@dataclass
class UnitOutcome:
    alias: str
    source: str
    org_id: str | None = None
    status: str = "running"  # ok | partial | failed | limit_exceeded | skipped | not_available
    result: BatchResult = field(default_factory=BatchResult)
    notes: list[Notice] = field(default_factory=list)  # facts to report, not failures
    error: str | None = None
    seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter)


@dataclass
class IngestSummary:
    run_id: str
    units: list[UnitOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    writer_seconds: float = 0.0  # the writer thread busy storing (not waiting for a batch)

    @property
    def failed(self) -> bool:
        return any(unit.status in FAILED for unit in self.units)


def choose_orgs(config: Config, aliases: Iterable[str]) -> list[OrgConfig]:
    wanted = list(aliases)
    if not config.orgs:
        raise InputError(
            "no orgs configured; add [orgs.<alias>] sections (README: Connect a real org)"
        )
    unknown = [alias for alias in wanted if alias not in config.orgs]
    if unknown:
        raise InputError(
            f"--org {', '.join(unknown)}: not in the configuration "
            f"(known: {', '.join(config.orgs)})"
        )
    return [config.orgs[a] for a in wanted] if wanted else list(config.orgs.values())


def run(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    *,
    run_id: str,
    now: Callable[[], datetime],
    aliases: Iterable[str] = (),
    since: datetime | None = None,
    on_event: Callable[[str, UnitOutcome], None] | None = None,
) -> IngestSummary:
    summary = IngestSummary(run_id=run_id)
    chosen = choose_orgs(config, aliases)
    orgs = [org for org in chosen if not org.import_only]
    if not orgs:  # one sentence, not one note per org
        summary.notes.append(f"{NOTHING_TO_PULL} ({', '.join(o.alias for o in chosen)})")
    for org in chosen:
        if org.import_only and orgs:  # CONTRACT §8: nothing to connect to; the rest use it
            summary.notes.append(
                f"orgs.{org.alias}: import-only (no instance_url / auth), skipped by ingest"
            )
    sources = {source.id: source for source in all_sources()}
    units: dict[tuple[str, str], UnitOutcome] = {}
    pending: dict[tuple[str, str], RecordBatch] = {}
    messages: queue.Queue[Message] = queue.Queue(maxsize=16)
    stop = threading.Event()
    loader = Loader(con, run_id=run_id, now=now())
    started_at = now()
    with tempfile.TemporaryDirectory(prefix="tokensentry-ingest-") as workdir:
        pool = ThreadPoolExecutor(max_workers=config.ingest.workers, thread_name_prefix="ingest")
        futures = [
            pool.submit(
                fetch_org,
                org,
                sources,
                config,
                con,
                messages,
                stop,
                since,
                started_at,
                Path(workdir),
            )
            for org in orgs
        ]
        try:
            while True:
                try:
                    message = messages.get(timeout=0.2)
                except queue.Empty:
                    if all(f.done() for f in futures) and messages.empty():
                        break
                    continue
                handling = time.perf_counter()
                _handle(
                    message,
                    con,
                    loader,
                    units,
                    summary,
                    run_id,
                    now,
                    on_event,
                    pending,
                    config.ingest.write_batch,
                )
                summary.writer_seconds += time.perf_counter() - handling
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
    for future in futures:
        error = future.exception()
        if error is not None and not isinstance(error, Stopped):
            raise error
    return summary


def _handle(
    message: Message,
    con: duckdb.DuckDBPyConnection,
    loader: Loader,
    units: dict[tuple[str, str], UnitOutcome],
    summary: IngestSummary,
    run_id: str,
    now: Callable[[], datetime],
    on_event: Callable[[str, UnitOutcome], None] | None,
    pending: dict[tuple[str, str], RecordBatch],
    write_batch: int,
) -> None:
    key = (message.alias, message.source)
    unit_id = f"{message.alias}/{message.source}"
    if message.kind == "sync":  # the fetch thread waits until what it sent before is stored
        for pending_key in [k for k in pending if k[0] == message.alias]:
            _flush(pending_key, loader, units[pending_key], pending, now)
        assert isinstance(message.batch, threading.Event)
        message.batch.set()
        return
    if message.kind == "start":
        unit = units[key] = UnitOutcome(message.alias, message.source, message.org_id)
        summary.units.append(unit)
        runs.start(
            con, run_id=run_id, stage="ingest", unit_id=unit_id, now=now(), org_id=message.org_id
        )
        if message.org_id:
            gap = retention.check(
                con, org_id=message.org_id, source_id=message.source, now=now(), run_id=run_id
            )
            if gap:
                unit.notes.append(
                    Notice(
                        "info",
                        gap.describe(),
                        {
                            "retention_gap": {
                                "from": gap.gap_start.isoformat(),
                                "to": gap.gap_end.isoformat(),
                                "retention_days": gap.retention.days,
                                "verified": gap.retention.verified,
                            }
                        },
                    )
                )
        if on_event:
            on_event("start", unit)
        return
    unit = units[key]
    if message.kind == "batch":
        batch = message.batch
        if isinstance(batch, Notice):
            unit.notes.append(batch)
            return
        if isinstance(batch, RecordBatch):
            buffered = pending.setdefault(key, RecordBatch([]))
            buffered.records.extend(batch.records)
            buffered.problems.extend(batch.problems)
            # A transaction per 2,000-row page costs more in fixed overhead than the rows; a
            # crash loses at most this buffer, which the next run re-reads from the cursor.
            if len(buffered.records) < write_batch:
                return
        _flush(key, loader, unit, pending, now)
        if not isinstance(batch, RecordBatch):
            loader.now = now()
            unit.result.add(_write(loader, batch, unit.org_id or ""))
            crash_hook.after_commit()
        if on_event:
            on_event("batch", unit)
        return
    _flush(key, loader, unit, pending, now)
    unit.status, unit.error = message.status or "ok", message.error
    partial = [n.message for n in unit.notes if n.kind == "partial"]
    if unit.status == "ok" and partial:
        unit.status, unit.error = "partial", "; ".join(partial)
    unit.seconds = time.perf_counter() - unit.started
    r = unit.result
    runs.finish(
        con,
        run_id=run_id,
        stage="ingest",
        unit_id=unit_id,
        status=unit.status,
        now=now(),
        rows_read=r.rows_read,
        rows_new=r.rows_new,
        rows_quarantined=r.rows_quarantined,
        error=unit.error,
        details=redact.redact(
            {
                "events_new": r.events_new,
                "events_enriched": r.events_enriched,
                "seconds": round(unit.seconds, 3),
                **({"notes": [_note(n) for n in unit.notes]} if unit.notes else {}),
            }
        ),
    )
    if on_event:
        on_event("end", unit)


def _note(notice: Notice) -> dict[str, object]:
    return {"kind": notice.kind, "message": notice.message, **notice.details}


def _flush(
    key: tuple[str, str],
    loader: Loader,
    unit: UnitOutcome,
    pending: dict[tuple[str, str], RecordBatch],
    now: Callable[[], datetime],
) -> None:
    buffered = pending.pop(key, None)
    if buffered and (buffered.records or buffered.problems):
        loader.now = now()
        unit.result.add(_write(loader, buffered, unit.org_id or ""))
        crash_hook.after_commit()


def _write(loader: Loader, batch: object, org_id: str) -> BatchResult:
    origin = f"salesforce:{org_id}"
    if isinstance(batch, RecordBatch):
        result = loader.load_records(batch.records, origin=origin)
        result.rows_read += len(batch.problems)
        result.rows_quarantined += loader.quarantine(origin, origin, batch.problems)
        return result
    if isinstance(batch, ElfFile):
        try:
            result = elf_csv.load_file(loader, batch.path, default_org=org_id)
        finally:
            batch.path.unlink(missing_ok=True)
        loader.load_records([batch.listing], origin=origin)  # the file is in: advance the cursor
        return result
    assert isinstance(batch, WindowDone)
    loader.load_records([batch.marker], origin=origin)
    return BatchResult()
