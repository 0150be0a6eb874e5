"""The `runs` table: one row per stage × unit (file, org/source, detector), with counts and error.

The dashboard's health view and the digest's "pipeline problems" read it; `detect` reads the
last successful detect run to know where to resume.

A run row records its owner (pid, host, the process's start time) and a heartbeat (wall clock,
refreshed whenever the run starts or finishes a unit). A `running` row whose process is gone
from this host, or whose heartbeat is older than HEARTBEAT_STALE, is *interrupted*: readers see
that through the TEMP view `runs_now` (every connection has it; `status` judged at open), and
writers record it (every read-write open marks such rows, and a new run of the same unit
supersedes its predecessor's `running` row).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

from .formats.redact import redact, scrub_optional


def new_run_id(now: datetime) -> str:
    """Sortable by time, unique across processes."""
    return f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


INTERRUPTED = "interrupted"
HEARTBEAT_STALE = timedelta(hours=12)  # no unit started or finished for this long: dead


def wall_clock() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@cache
def _boot_time() -> float | None:
    with contextlib.suppress(OSError, ValueError, StopIteration):
        text = Path("/proc/stat").read_text()
        return float(next(ln for ln in text.splitlines() if ln.startswith("btime")).split()[1])
    return None


def process_started_at(pid: int) -> datetime | None:
    """When process `pid` started (UTC), from /proc; None where there is no /proc."""
    boot = _boot_time()
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:
        ticks = int(stat[stat.rindex(")") + 2 :].split()[19])  # field 22: starttime
    except (ValueError, IndexError):
        return None
    if boot is None:
        return None
    seconds = boot + ticks / os.sysconf("SC_CLK_TCK")
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


@cache
def owner() -> tuple[int, str, datetime | None]:
    pid = os.getpid()
    return pid, socket.gethostname(), process_started_at(pid)


def _pid_alive(pid: int, started_at: datetime | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    if started_at is not None:
        now_started = process_started_at(pid)
        if now_started is not None and abs((now_started - started_at).total_seconds()) > 2:
            return False  # the pid was reused by a later process
    return True


def interruption(
    pid: int | None,
    host: str | None,
    process_started: datetime | None,
    heartbeat_at: datetime | None,
    started_at: datetime | None,
    *,
    now: datetime | None = None,
) -> str | None:
    """Why a `running` run is dead (its error text), or None while it may still run."""
    now = now or wall_clock()
    if pid is not None and host == socket.gethostname() and not _pid_alive(pid, process_started):
        return f"its process (pid {pid} on {host}) ended without finishing the run"
    last_sign = heartbeat_at or (started_at if pid is None else None)
    if last_sign is not None and now - last_sign > HEARTBEAT_STALE:
        return f"no sign of life since {last_sign:%Y-%m-%d %H:%M} UTC"
    return None


def _running(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    try:
        return con.execute(
            """SELECT run_id, stage, unit_id, owner_pid, owner_host, owner_started_at,
                      heartbeat_at, started_at
               FROM main.runs WHERE status = 'running'"""
        ).fetchall()
    except duckdb.CatalogException:  # a store from before 009_run_owner (or no runs table)
        return []
    except duckdb.BinderException:
        return []


def dead_runs(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, str]]:
    """(run_id, stage, unit_id, why) of every `running` row whose process is gone."""
    dead = []
    for run_id, stage, unit_id, pid, host, p_started, heartbeat, started in _running(con):
        why = interruption(pid, host, p_started, heartbeat, started)
        if why:
            dead.append((run_id, stage, unit_id, why))
    return dead


def register_liveness(con: duckdb.DuckDBPyConnection) -> None:
    """TEMP view `runs_now`: `runs` with each dead `running` row shown as interrupted (and
    why in `error`), judged now. Read-only connections can have it too."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _dead_runs "
        "(run_id VARCHAR, stage VARCHAR, unit_id VARCHAR, why VARCHAR)"
    )
    dead = dead_runs(con)
    if dead:
        con.executemany("INSERT INTO _dead_runs VALUES (?, ?, ?, ?)", dead)
    with contextlib.suppress(duckdb.CatalogException):  # no runs table (a bare store)
        con.execute(
            """CREATE OR REPLACE TEMP VIEW runs_now AS
               SELECT r.* REPLACE (
                   CASE WHEN d.run_id IS NULL THEN r.status ELSE 'interrupted' END AS status,
                   coalesce(r.error, d.why) AS error)
               FROM main.runs r LEFT JOIN _dead_runs d
                 ON d.run_id = r.run_id AND d.stage = r.stage AND d.unit_id = r.unit_id"""
        )


def mark_interrupted(con: duckdb.DuckDBPyConnection) -> int:
    """Record every dead `running` row as interrupted (a writer holds the store: it can)."""
    dead = dead_runs(con)
    for run_id, stage, unit_id, why in dead:
        con.execute(
            """UPDATE main.runs SET status = 'interrupted', error = coalesce(error, ?),
                   finished_at = coalesce(finished_at, heartbeat_at, started_at)
               WHERE run_id = ? AND stage = ? AND unit_id = ? AND status = 'running'""",
            [why, run_id, stage, unit_id],
        )
    return len(dead)


def start(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    stage: str,
    unit_id: str,
    now: datetime,
    org_id: str | None = None,
) -> None:
    """Record the run of a unit as running, owned by this process; an earlier run of the same
    unit still marked running cannot be (this process holds the store now): interrupted."""
    pid, host, process_started = owner()
    con.execute(
        """UPDATE main.runs SET status = 'interrupted',
               error = coalesce(error, 'superseded by run ' || ? || ' (it never finished)'),
               finished_at = coalesce(finished_at, heartbeat_at, started_at)
           WHERE stage = ? AND unit_id = ? AND status = 'running' AND run_id <> ?""",
        [run_id, stage, unit_id, run_id],
    )
    con.execute(
        "INSERT INTO runs (run_id, stage, unit_id, org_id, started_at, status, owner_pid, "
        "owner_host, owner_started_at, heartbeat_at) "
        "VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [run_id, stage, unit_id, org_id, now, pid, host, process_started, wall_clock()],
    )
    heartbeat(con, run_id)


def heartbeat(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Every still-running unit of this run is alive now."""
    con.execute(
        "UPDATE runs SET heartbeat_at = ? WHERE run_id = ? AND status = 'running'",
        [wall_clock(), run_id],
    )


def finish(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    stage: str,
    unit_id: str,
    status: str,
    now: datetime,
    rows_read: int = 0,
    rows_new: int = 0,
    rows_quarantined: int = 0,
    error: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    con.execute(
        """UPDATE runs SET finished_at = ?, status = ?, rows_read = ?, rows_new = ?,
               rows_quarantined = ?, error = ?, details = ?
           WHERE run_id = ? AND stage = ? AND unit_id = ?""",
        [
            now,
            status,
            rows_read,
            rows_new,
            rows_quarantined,
            scrub_optional(error),  # exception texts can quote a URL or a response body
            json.dumps(redact(details)) if details is not None else None,
            run_id,
            stage,
            unit_id,
        ],
    )
    heartbeat(con, run_id)


def last_finished(con: duckdb.DuckDBPyConnection, stage: str, unit_id: str) -> datetime | None:
    """When the last successful run of this unit started (its scan covered up to then)."""
    row = con.execute(
        "SELECT max(started_at) FROM runs WHERE stage = ? AND unit_id = ? AND status = 'ok'",
        [stage, unit_id],
    ).fetchone()
    return row[0] if row else None
