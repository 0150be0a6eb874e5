"""The `runs` table: one row per stage × unit (file, org/source, detector), with counts and error.

The dashboard's health view and the digest's "pipeline problems" read it; `detect` reads the
last successful detect run to know where to resume.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import duckdb

from .formats.redact import redact, scrub_optional


def new_run_id(now: datetime) -> str:
    """Sortable by time, unique across processes."""
    return f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def start(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    stage: str,
    unit_id: str,
    now: datetime,
    org_id: str | None = None,
) -> None:
    con.execute(
        "INSERT INTO runs (run_id, stage, unit_id, org_id, started_at, status) "
        "VALUES (?, ?, ?, ?, ?, 'running') ON CONFLICT DO NOTHING",
        [run_id, stage, unit_id, org_id, now],
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


def last_finished(con: duckdb.DuckDBPyConnection, stage: str, unit_id: str) -> datetime | None:
    """When the last successful run of this unit started (its scan covered up to then)."""
    row = con.execute(
        "SELECT max(started_at) FROM runs WHERE stage = ? AND unit_id = ? AND status = 'ok'",
        [stage, unit_id],
    ).fetchone()
    return row[0] if row else None
