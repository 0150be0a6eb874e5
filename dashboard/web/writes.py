"""The dashboard's writes: triage and known egress through a short read-write connection.

DuckDB allows one writer per file, and `ingest` / `detect` hold it for their whole run. A write
never waits on the store (`wait=0`, see ingest/store_lock.py); it is retried for a few seconds,
and if the pipeline still holds the store the analyst's decision is appended to a spool file
next to the store (`<store>.pending-triage.jsonl`, fsynced, with the moment it was made and the
analyst's name) and reported as queued. Whichever writer gets the store next drains the spool
into `triage` and `audit_log` (`drain`, an `ingest.db.on_write_open` hook): the dashboard's next
write or page view, its background flusher, or a pipeline command (`import`, `ingest`,
`detect`, `nightly`, `triage`) as it opens or closes the store. So a triage made while the
pipeline runs is never lost, and its audit line keeps the time the analyst decided, not the
time it landed. A drain that is interrupted after applying an entry does not apply it twice:
an entry whose audit line is already there is skipped.

No Streamlit here: the page calls these functions, and the tests call them directly.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from dashboard import queries
from dashboard.queries.triage import Change
from ingest import db
from ingest.errors import InputError, TokensentryError

T = TypeVar("T")
WRITE_ATTEMPTS = 6
WRITE_WAIT_S = 0.5  # doubled per attempt, capped at 2 s: about 7 s in all
FLUSH_EVERY_S = 2.0


class StoreBusy(Exception):
    """The pipeline holds DuckDB's single-writer lock."""


def is_lock_error(exc: Exception) -> bool:
    if isinstance(exc, db.StoreBusyError):
        return True
    text = str(exc).lower()
    return "lock" in text or "in use by another" in text


def with_retry(
    open_connection: Callable[[], contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]],
    action: Callable[[duckdb.DuckDBPyConnection], T],
    *,
    attempts: int,
    wait_s: float,
) -> T:
    """Run `action` on a fresh connection; retry while another process holds the lock."""
    for attempt in range(attempts):
        try:
            with open_connection() as con:
                return action(con)
        except (TokensentryError, duckdb.IOException) as exc:
            if not is_lock_error(exc):
                raise
            if attempt == attempts - 1:
                raise StoreBusy(str(exc)) from None
            time.sleep(min(wait_s * 2**attempt, 2.0))
    raise AssertionError("unreachable")


def write(
    db_path: Path,
    action: Callable[[duckdb.DuckDBPyConnection], T],
    *,
    attempts: int = WRITE_ATTEMPTS,
    wait_s: float = WRITE_WAIT_S,
) -> T:
    """`action` on a read-write connection (which first drains the queue), never waiting on
    the store: StoreBusy when it stays taken through the retries."""
    return with_retry(lambda: db.connect(db_path, wait=0), action, attempts=attempts, wait_s=wait_s)


def spool_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".pending-triage.jsonl")


def rejected_path(db_path: Path) -> Path:
    """Queued decisions the store refused when they landed (e.g. the alert is gone)."""
    return db_path.with_name(db_path.name + ".rejected-triage.jsonl")


@contextlib.contextmanager
def _locked_spool(db_path: Path) -> Iterator[Any]:
    path = spool_path(db_path)
    with path.open("a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # one flusher or appender at a time, across processes
        try:
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _apply(con: duckdb.DuckDBPyConnection, entry: dict[str, Any]) -> list[Change]:
    return queries.triage(
        con,
        entry["ids"],
        entry["status"],
        note=entry["note"],
        analyst=entry["analyst"],
        now=datetime.fromisoformat(entry["now"]),
        kind=entry["kind"],
        via="dashboard",
    )


def triage(
    db_path: Path,
    ids: list[str],
    status: str,
    *,
    note: str | None,
    analyst: str,
    now: datetime,
    kind: str = "auto",
    attempts: int = WRITE_ATTEMPTS,
    wait_s: float = WRITE_WAIT_S,
    on_landed: Callable[[], None] | None = None,
) -> str:
    """Record the decision now ("written"; "note" when no status moved and only the note was
    recorded; "unchanged" when it changed nothing and carried no note, so nothing was
    recorded) or queue it until the pipeline lets go ("queued").
    InputError (unknown id, missing analyst) propagates: nothing is written or queued. When
    the store is busy, the ids cannot be checked: a queued decision the store refuses when it
    lands goes to the rejected file (and stderr)."""
    if not analyst or not analyst.strip():
        raise InputError("triage needs the analyst's name")
    entry = {
        "id": uuid.uuid4().hex,
        "ids": list(ids),
        "status": status,
        "note": note,
        "analyst": analyst,
        "now": now.isoformat(),
        "kind": kind,
    }
    try:
        lines = write(db_path, lambda con: _apply(con, entry), attempts=attempts, wait_s=wait_s)
        if not lines:
            return "unchanged"
        return "note" if all(line.note_only for line in lines) else "written"
    except StoreBusy:
        enqueue(db_path, entry)
        start_flusher(db_path, on_landed=on_landed)
        return "queued"


def enqueue(db_path: Path, entry: dict[str, Any]) -> None:
    """Append one decision to the spool, on disk (fsynced) before the analyst is told."""
    with _locked_spool(db_path) as handle:
        handle.write(json.dumps(entry) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def pending(db_path: Path) -> int:
    path = spool_path(db_path)
    if not path.exists():
        return 0
    with path.open(encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip())


def _already_applied(con: duckdb.DuckDBPyConnection, entry: dict[str, Any]) -> bool:
    """Its audit line is there: a drain applied it, then died before emptying the spool."""
    row = con.execute(
        """SELECT count(*) FROM audit_log WHERE via = 'dashboard' AND analyst = ?
             AND changed_at = ? AND to_status = ? AND list_contains(?, target_id)""",
        [entry["analyst"].strip(), datetime.fromisoformat(entry["now"]), entry["status"],
         entry["ids"]],
    ).fetchone()  # fmt: skip
    return bool(row and row[0])


def drain(con: duckdb.DuckDBPyConnection, db_path: Path) -> int:
    """Apply every queued decision through `con` (a writer's), in the order made; empty the
    spool; return how many landed. A decision the store refuses goes to the rejected file."""
    path = spool_path(db_path)
    if not path.exists() or path.stat().st_size == 0:
        return 0
    with _locked_spool(db_path) as handle:
        handle.seek(0)
        entries = [json.loads(line) for line in handle if line.strip()]
        landed = 0
        for entry in entries:
            if _already_applied(con, entry):
                continue
            try:
                _apply(con, entry)
                landed += 1
            except InputError as exc:  # e.g. an alert a re-detection superseded meanwhile
                _reject(db_path, entry, exc)
        handle.seek(0)
        handle.truncate()
        handle.flush()
        os.fsync(handle.fileno())
    return landed


def _reject(db_path: Path, entry: dict[str, Any], exc: Exception) -> None:
    print(f"tokensentry: queued triage by {entry['analyst']} refused: {exc}", file=sys.stderr)
    with rejected_path(db_path).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({**entry, "refused": str(exc)}) + "\n")


def flush(db_path: Path) -> int:
    """Drain the queue now if the store is free; return how many decisions landed.
    Raises StoreBusy when the pipeline still holds the store (nothing is lost)."""
    before = pending(db_path)
    if not before:
        return 0
    write(db_path, lambda con: drain(con, db_path), attempts=1, wait_s=0)  # opening drains
    return before - pending(db_path)


_flushers: dict[Path, threading.Thread] = {}
_flushers_lock = threading.Lock()


def start_flusher(
    db_path: Path, every_s: float = FLUSH_EVERY_S, on_landed: Callable[[], None] | None = None
) -> threading.Thread:
    """A daemon thread (one per store) that applies the spool as soon as the lock is free,
    then calls `on_landed` (the dashboard forgets its cached reads)."""

    def run() -> None:
        while pending(db_path):
            try:
                if flush(db_path) and on_landed is not None:
                    on_landed()
            except StoreBusy:
                time.sleep(every_s)

    with _flushers_lock:
        current = _flushers.get(db_path)
        if current is not None and current.is_alive():
            return current
        thread = threading.Thread(target=run, name=f"triage-flush:{db_path.name}", daemon=True)
        _flushers[db_path] = thread
        thread.start()
        return thread
