"""Triage from the dashboard while `ingest` or `detect` holds DuckDB's single-writer lock:
queued with the moment the analyst decided, and recorded once the lock is free."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from dashboard.web import writes
from ingest import db

from .writer import hold_write_lock


def test_triage_made_while_the_pipeline_writes_is_not_lost(store_copy, plant):
    incident = plant(store_copy, alert_id="planted00000000000w1", app="Acme Sync")
    decided_at = datetime(2026, 11, 30, 1, 2, 3)
    with hold_write_lock(store_copy, seconds=3):
        outcome = writes.triage(
            store_copy,
            [incident],
            "acknowledged",
            note="looking into it",
            analyst="Ada Analyst",
            now=decided_at,
            kind="incident",
            attempts=2,
            wait_s=0.1,
        )
        assert outcome == "queued"
        assert writes.pending(store_copy) == 1
    deadline = time.monotonic() + 30
    while writes.pending(store_copy) and time.monotonic() < deadline:
        time.sleep(0.2)  # the background flusher applies it once the lock is free
    assert writes.pending(store_copy) == 0
    with db.connect(store_copy, read_only=True) as con:
        assert con.execute(
            "SELECT status, note, analyst FROM triage WHERE alert_id = ?", [incident]
        ).fetchone() == ("acknowledged", "looking into it", "Ada Analyst")
        trail = con.execute(
            "SELECT target_kind, changed_at, to_status, via FROM audit_log ORDER BY target_kind"
        ).fetchall()
    assert trail == [
        ("alert", decided_at, "acknowledged", "dashboard"),
        ("incident", decided_at, "acknowledged", "dashboard"),
    ]


def test_triage_with_the_store_free_is_written_at_once(store_copy, plant):
    incident = plant(store_copy, alert_id="planted00000000000w2", app="Acme Sync")
    outcome = writes.triage(
        store_copy, [incident], "resolved", note=None, analyst="Bo", now=datetime(2026, 11, 30)
    )
    assert outcome == "written"
    assert writes.pending(store_copy) == 0
    with db.connect(store_copy, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 2


def test_unknown_id_is_refused_not_queued(store_copy):
    from ingest.errors import InputError

    with pytest.raises(InputError):
        writes.triage(
            store_copy, ["no-such-id"], "resolved", note=None, analyst="Bo",
            now=datetime(2026, 11, 30),
        )  # fmt: skip
    assert writes.pending(store_copy) == 0


def test_lock_errors_are_told_apart_from_others():
    assert writes.is_lock_error(Exception("Could not set lock on file"))
    assert writes.is_lock_error(Exception("x: the database is in use by another process"))
    assert not writes.is_lock_error(Exception("no database yet"))
