"""Triage: the analyst's decision on alerts or incidents, and its audit trail.

Every change appends to `audit_log` (who, when, from -> to, note, and which surface), in the same
transaction as the decision itself. A decision that changes nothing writes nothing (re-applying
false_positive to a false positive is not a change); one that changes nothing but carries a note
writes one note line for the target named (from = to = its status), not one per alert it holds.
The dashboard's queued decisions land through `triage` too, so the rule is the same for both.
Triage of an incident applies to the alerts it holds at that moment: an alert that joins later
starts as new, which reopens the incident. Detection never writes here (detect/ does not know
these tables).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

import duckdb
import pandas as pd

from ingest.errors import InputError

from .incidents import STATUS_SQL

ALERT_STATUSES = ("new", "acknowledged", "resolved", "false_positive")
Kind = Literal["auto", "alert", "incident"]


@dataclass(frozen=True)
class Change:
    """One line of the audit trail."""

    target_kind: str  # alert | incident
    target_id: str
    from_status: str
    to_status: str
    incident_id: str | None = None
    note_only: bool = False  # no status moved: the line only records the analyst's note


def triage(
    con: duckdb.DuckDBPyConnection,
    target_ids: Iterable[str],
    status: str,
    *,
    note: str | None,
    analyst: str,
    now: datetime,
    kind: Kind = "auto",
    via: str = "api",
) -> list[Change]:
    """Set `status` on alerts or incidents and append the audit trail; return the changes.

    An incident's id is its first alert's id, so `kind` says which is meant: "incident" or
    "alert" explicitly, or "auto": the incident when the id names one, else the alert. The
    alert page passes kind="alert" so triaging an incident's first alert stays one alert.
    Raises InputError (nothing written) when an id names neither or the status is unknown.
    """
    if status not in ALERT_STATUSES:
        raise InputError(f"status must be one of {', '.join(ALERT_STATUSES)}, not {status!r}")
    if not analyst or not analyst.strip():
        raise InputError("triage needs the analyst's name")
    changes: list[Change] = []
    for target in dict.fromkeys(target_ids):  # each id once, in the given order
        changes.extend(_effective(_plan(con, target, status, kind), note))
    if not changes:
        return []
    con.execute("BEGIN TRANSACTION")
    try:
        alert_ids = [c.target_id for c in changes if c.target_kind == "alert" and not c.note_only]
        if alert_ids:
            con.execute(
                """INSERT INTO triage
                   SELECT unnest(CAST(? AS VARCHAR[])), ?, ?, ?, CAST(? AS TIMESTAMP)
                   ON CONFLICT (alert_id) DO UPDATE SET status = excluded.status,
                       note = excluded.note, analyst = excluded.analyst,
                       updated_at = excluded.updated_at""",
                [alert_ids, status, note, analyst.strip(), now],
            )
        con.executemany(
            "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    uuid.uuid4().hex,
                    now,
                    analyst.strip(),
                    c.target_kind,
                    c.target_id,
                    c.incident_id,
                    c.from_status,
                    c.to_status,
                    note,
                    via,
                ]
                for c in changes
            ],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return changes


def _effective(planned: list[Change], note: str | None) -> list[Change]:
    """The lines a decision writes for one target: the rows whose status moves (an incident's
    own line stays with its alerts' when only they move, so the decision reads as one); when
    none does, one note line for the target itself if there is a note, else none."""
    target, *held = planned
    moved = [c for c in held if c.from_status != c.to_status]
    if moved or target.from_status != target.to_status:
        return [target, *moved]
    if note and note.strip():
        return [replace(planned[0], note_only=True)]
    return []


def _plan(con: duckdb.DuckDBPyConnection, target: str, status: str, kind: Kind) -> list[Change]:
    if kind in ("auto", "incident"):
        row = con.execute(
            STATUS_SQL.format(where="WHERE m.incident_id = ?") + "", [target]
        ).fetchone()
        if row is not None:
            held = con.execute(
                """SELECT m.alert_id, coalesce(t.status, 'new') FROM incident_alerts m
                   LEFT JOIN triage t USING (alert_id) WHERE m.incident_id = ?
                   ORDER BY m.alert_id""",
                [target],
            ).fetchall()
            return [Change("incident", target, row[1], status)] + [
                Change("alert", alert_id, old, status, incident_id=target) for alert_id, old in held
            ]
        if kind == "incident":
            raise InputError(
                f"incident {target}: no such incident (see `tokensentry alerts --incidents`)"
            )
    row = con.execute(
        "SELECT coalesce(t.status, 'new') FROM alerts a LEFT JOIN triage t USING (alert_id) "
        "WHERE a.alert_id = ?",
        [target],
    ).fetchone()
    if row is None:
        raise InputError(f"alert {target}: no such alert or incident (see `tokensentry alerts`)")
    return [Change("alert", target, row[0], status)]


def triage_status(con: duckdb.DuckDBPyConnection, alert_id: str) -> str:
    row = con.execute("SELECT status FROM triage WHERE alert_id = ?", [alert_id]).fetchone()
    return row[0] if row else "new"


def audit_trail(con: duckdb.DuckDBPyConnection, target_id: str) -> pd.DataFrame:
    """Every change to an alert or an incident (and to the alerts it held), oldest first."""
    return con.execute(
        """SELECT changed_at, analyst, target_kind, target_id, incident_id, from_status,
                  to_status, note, via
           FROM audit_log WHERE target_id = ? OR incident_id = ?
           ORDER BY changed_at, target_kind DESC, target_id""",
        [target_id, target_id],
    ).df()


def set_triage(
    con: duckdb.DuckDBPyConnection,
    alert_id: str,
    status: str,
    *,
    note: str | None,
    analyst: str | None,
    now: datetime,
) -> None:
    """One alert's decision, audited like every other (see `triage`)."""
    triage(con, [alert_id], status, note=note, analyst=analyst or "unknown", now=now, kind="alert")
