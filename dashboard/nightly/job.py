"""The nightly job: ingest every org, detect, post new alerts to the webhooks (webhook.py),
mail the digest; for cron or a systemd timer.

- One `fcntl.flock` on a lock file beside the database: the kernel drops it when the process
  ends, however it ends (kill -9 included), so a crash never leaves a stale lock behind, and an
  overlapping start (a slow night, a second timer) exits 1 at once instead of queueing on
  DuckDB's writer lock.
- Each stage opens the store through `ingest.db.connect`, which waits (bounded,
  `TOKENSENTRY_STORE_WAIT`) while the dashboard reads or writes, saying on stderr who holds it;
  opening and closing the store also records the dashboard's queued triage.
- Each stage runs even if the one before failed: a failed ingest still mails the digest of what
  was detected, marked partial. A stage that raises is recorded in `runs` (stage, unit
  `nightly`) so the digest's pipeline health names it.
- stderr gets one line per event with a UTC timestamp: readable as cron mail and in journald.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from detect import runner
from ingest import db, ingestion, runs
from ingest.config import Config
from ingest.errors import TokensentryError
from ingest.ingestion import UnitOutcome
from ingest.runs import new_run_id

from .. import queries
from ..digest import run_digest
from ..digest.defang import clean
from ..store_maintenance import nightly_prune
from .webhook import deliver_webhooks

Log = Callable[[str], None]


class NightlyLocked(TokensentryError):
    """Another nightly run holds the lock."""


DIGEST_DISABLED = (
    "disabled in the configuration ([digest] enabled = false); nothing mailed "
    "(`tokensentry digest --dry-run FILE.eml` writes the message it would send)"
)


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".nightly.lock")


@contextlib.contextmanager
def nightly_lock(db_path: Path) -> Iterator[Path]:
    """Hold the store's nightly lock, or raise NightlyLocked at once. `tokensentry digest`
    takes it too, so a digest run by hand never mails what the night's run is mailing."""
    path = lock_path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(descriptor)
        raise NightlyLocked(
            f"{path}: another `tokensentry nightly` or `digest` (pid {holder}) is still running; "
            "this start exits without doing anything"
        ) from None
    try:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


def line_logger(command: str) -> Log:
    """One line per event on stderr: a UTC timestamp, the command, the event (controls and
    newlines removed, so an error text from a server cannot forge or split log lines)."""

    def log(message: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        sys.stderr.write(f"{stamp} tokensentry {command}: {clean(message)}\n")
        sys.stderr.flush()

    return log


stderr_log = line_logger("nightly")


def run_nightly(
    db_path: Path,
    config: Config,
    *,
    now: Callable[[], datetime],
    log: Log = stderr_log,
    since: datetime | None = None,
) -> int:
    """0 when every stage and unit succeeded, 1 when one failed (the rest still ran)."""
    with nightly_lock(db_path):
        log(f"start (pid {os.getpid()}, store {db_path})")
        failures = [
            problem
            for problem in (
                _ingest(db_path, config, now=now, log=log, since=since),
                _detect(db_path, config, now=now, log=log),
                nightly_prune(db_path, config, now=now, log=log),  # [store] retention_days
            )
            if problem
        ]
        # Before the digest, so its pipeline section names a webhook that failed tonight; not
        # a reason to mark the digest partial (the data is complete).
        sink_failures = deliver_webhooks(db_path, config, now=now, log=log)
        problem = _digest(db_path, config, failures, now=now, log=log)
        failures += ([problem] if problem else []) + sink_failures
        log(f"done: {'; '.join(failures) if failures else 'every stage succeeded'}")
    return 1 if failures else 0


def _digest(
    db_path: Path, config: Config, failures: list[str], *, now: Callable[[], datetime], log: Log
) -> str | None:
    """Mail the digest (partial when a stage failed); a configuration without mail says so."""
    if not config.digest.enabled:
        log(f"digest: {DIGEST_DISABLED}")
        return None
    try:
        outcome = run_digest(
            db_path,
            config,
            now=now,
            log=lambda message: log(f"digest: {message}"),
            partial=bool(failures),
            notes=tuple(failures),
        )
    except TokensentryError as exc:
        log(f"digest: failed: {exc}")
        return f"digest: {exc}"
    return f"digest: {outcome.detail}" if outcome.status == "failed" else None


def _ingest(
    db_path: Path, config: Config, *, now: Callable[[], datetime], log: Log, since: datetime | None
) -> str | None:
    if not config.orgs:
        log("ingest: no orgs configured; skipped (import-only store)")
        return None
    if all(org.import_only for org in config.orgs.values()):
        log(f"ingest: {ingestion.NOTHING_TO_PULL}")
        return None

    def report(what: str, unit: UnitOutcome) -> None:
        if what != "end":
            return
        result = unit.result
        detail = unit.error or (
            f"{result.rows_read} rows read, {result.rows_new} new, "
            f"{result.rows_quarantined} quarantined"
        )
        log(f"ingest {unit.alias}/{unit.source}: {unit.status}: {detail}")

    run_id = new_run_id(now())
    try:
        with db.connect(db_path) as con:
            summary = ingestion.run(
                con, config, run_id=run_id, now=now, since=since, on_event=report
            )
    except Exception as exc:  # recorded and mailed, never swallowed: the digest still goes out
        return _stage_failed(db_path, run_id, "ingest", exc, now=now, log=log)
    failed = [u for u in summary.units if u.status in ingestion.FAILED]
    log(f"ingest: {len(summary.units)} unit(s), {len(failed)} failed")
    if failed:
        names = ", ".join(f"{u.alias}/{u.source}" for u in failed)
        return f"ingest failed for {names}"
    return None


def _detect(db_path: Path, config: Config, *, now: Callable[[], datetime], log: Log) -> str | None:
    run_id = new_run_id(now())
    try:
        with db.connect(db_path) as con:
            summary = runner.run(con, config, run_id=run_id, now=now)
            queries.refresh_rollups(con, config, now=now())
    except Exception as exc:  # recorded and mailed, never swallowed: the digest still goes out
        return _stage_failed(db_path, run_id, "detect", exc, now=now, log=log)
    for outcome in summary.detectors:
        detail = outcome.error or (
            f"{outcome.findings} finding(s), {outcome.alerts_new} new alert(s), "
            f"{outcome.alerts_updated} updated"
        )
        log(f"detect {outcome.detector_id}: {outcome.status}: {detail}")
    failed = [d.detector_id for d in summary.detectors if d.status != "ok"]
    return f"detectors failed: {', '.join(failed)}" if failed else None


def _stage_failed(
    db_path: Path,
    run_id: str,
    stage: str,
    exc: Exception,
    *,
    now: Callable[[], datetime],
    log: Log,
) -> str:
    error = "".join(traceback.format_exception_only(exc)).strip()
    log(f"{stage}: failed: {error}")
    with contextlib.suppress(TokensentryError), db.connect(db_path) as con:
        runs.start(con, run_id=run_id, stage=stage, unit_id="nightly", now=now())
        runs.finish(
            con, run_id=run_id, stage=stage, unit_id="nightly", status="failed", now=now(),
            error=error,
        )  # fmt: skip
    return f"{stage} failed: {error}"
