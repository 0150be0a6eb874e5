"""The pipeline and the analyst share one DuckDB file (one writer process, or readers, never
both): pipeline commands wait for the store instead of failing, the dashboard's reads back off
while a writer holds it, and every triage is written or queued on disk and lands later."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from dashboard import queries
from dashboard.web import ui, writes
from ingest import db, store_lock

from .writer import hold_write_lock

REPO = Path(__file__).resolve().parents[2]


def tokensentry(store: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300):
    return subprocess.run(
        [sys.executable, "-m", "dashboard.cli", "--db", str(store),
         "--config", str(store.parent / "tokensentry.toml"), *args],
        cwd=REPO, env={**os.environ, **(env or {})}, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def audit_lines(store: Path, analyst: str) -> list[tuple]:
    with db.connect(store, read_only=True) as con:
        return con.execute(
            "SELECT changed_at, target_kind, to_status, via FROM audit_log WHERE analyst = ? "
            "ORDER BY changed_at, target_kind",
            [analyst],
        ).fetchall()


def some_incidents(store: Path, n: int) -> list[str]:
    with db.connect(store, read_only=True) as con:
        rows = con.execute(
            "SELECT DISTINCT incident_id FROM incident_alerts ORDER BY incident_id LIMIT ?", [n]
        ).fetchall()
    return [row[0] for row in rows]


def test_detect_waits_for_a_held_store_and_says_who_holds_it(store_copy):
    with hold_write_lock(store_copy, seconds=4) as holder:
        result = tokensentry(store_copy, "detect", "--detector", "off_allowlist_ip")
    assert result.returncode == 0, result.stderr
    assert f"in use by pid {holder.pid}" in result.stderr
    assert "waiting for it (up to 600 s, TOKENSENTRY_STORE_WAIT)" in result.stderr
    assert "got the database, going on" in result.stderr


def test_the_wait_is_bounded_and_the_error_says_what_to_do(store_copy):
    # Held long enough that the command, however slow to start, meets it and gives up.
    with hold_write_lock(store_copy, seconds=10) as holder:
        result = tokensentry(
            store_copy, "import", str(store_copy.parent / "nothing-here"),
            env={"TOKENSENTRY_STORE_WAIT": "1"},
        )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert f"still in use by pid {holder.pid}" in result.stderr
    assert "after waiting 1 s" in result.stderr
    assert "TOKENSENTRY_STORE_WAIT" in result.stderr


def test_a_second_writer_waits_for_the_first_and_names_it(store_copy):
    """Two tokensentry writers: the gate file names the holder's command."""
    messages: list[str] = []
    with db.connect(store_copy):
        assert store_lock.writer_waiting(store_copy) == "this process"
        result = tokensentry(store_copy, "triage", "nope", "--status", "resolved",
                             env={"TOKENSENTRY_STORE_WAIT": "0.5"})  # fmt: skip
        assert result.returncode == 1
        assert f"in use by pid {os.getpid()}" in result.stderr
    with db.connect(store_copy, wait=5, say=messages.append):
        pass
    assert messages == []  # free: no message at all


def test_readers_back_off_while_a_writer_holds_the_gate(store_copy):
    code = (
        "import sys, time\nfrom ingest import db\n"
        "with db.connect(sys.argv[1]):\n    print('in', flush=True)\n    time.sleep(3)\n"
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", code, str(store_copy)], cwd=REPO, stdout=subprocess.PIPE,
        text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "in"
        assert f"pid {writer.pid}" in (store_lock.writer_waiting(store_copy) or "")
        with pytest.raises(db.StoreBusyError):
            db.open_store(store_copy, read_only=True, wait=0)
        started = time.monotonic()
        with db.connect(store_copy, read_only=True, wait=30) as con:  # waits, then reads
            assert con.execute("SELECT count(*) FROM alerts").fetchone()[0] > 0
        assert time.monotonic() - started > 1
    finally:
        writer.wait(timeout=30)


def test_queued_triage_lands_with_the_next_pipeline_command(store_copy):
    incident = some_incidents(store_copy, 1)[0]
    decided = datetime(2026, 11, 30, 4, 5, 6)
    writes.enqueue(
        store_copy,
        {"id": "q1", "ids": [incident], "status": "acknowledged", "note": "seen",
         "analyst": "Queued Quinn", "now": decided.isoformat(), "kind": "incident"},
    )  # fmt: skip
    result = tokensentry(store_copy, "detect", "--detector", "off_allowlist_ip")
    assert result.returncode == 0, result.stderr
    assert writes.pending(store_copy) == 0
    lines = audit_lines(store_copy, "Queued Quinn")
    assert lines and {line[0] for line in lines} == {decided}
    assert ("incident", "acknowledged", "dashboard") in {line[1:] for line in lines}


def test_a_drain_cut_short_never_applies_a_decision_twice(store_copy):
    incident = some_incidents(store_copy, 1)[0]
    entry = {"id": "q2", "ids": [incident], "status": "resolved", "note": None,
             "analyst": "Twice Tess", "now": "2026-11-30T07:00:00", "kind": "incident"}  # fmt: skip
    writes.enqueue(store_copy, entry)
    with db.open_store(store_copy) as con:  # applied, then "killed" before the spool emptied
        writes._apply(con, entry)
    once = audit_lines(store_copy, "Twice Tess")
    with db.connect(store_copy):
        pass  # a writer opens: the drain skips what is already there
    assert writes.pending(store_copy) == 0
    assert audit_lines(store_copy, "Twice Tess") == once


def test_a_queued_decision_the_store_refuses_is_kept_aside(store_copy):
    writes.enqueue(
        store_copy,
        {"id": "q3", "ids": ["no-such-alert"], "status": "resolved", "note": None,
         "analyst": "Gone Gil", "now": "2026-11-30T07:00:00", "kind": "auto"},
    )  # fmt: skip
    with db.connect(store_copy):
        pass
    assert writes.pending(store_copy) == 0
    assert "no-such-alert" in writes.rejected_path(store_copy).read_text()


DETECT_RUNS = 20


def test_detect_runs_while_pages_read_and_analysts_triage(store_copy):
    """20 `detect` runs while a reader runs the dashboard's read queries (ui.q's cache miss:
    short read-only connections that never wait) and an analyst triages every ~0.3 s: every run exits 0, and
    every decision (written at once or queued) is in audit_log afterwards."""
    incidents = some_incidents(store_copy, 4)
    stop = threading.Event()
    reads = {"ok": 0, "busy": 0}
    decisions: list[tuple[datetime, str]] = []
    errors: list[BaseException] = []
    base = datetime(2026, 11, 30, 12, 0, 0)

    def read_pages() -> None:
        filters = queries.Filters()
        while not stop.is_set():
            for name, args in (("incidents", (filters,)), ("runs", ("detect", 50)),
                               ("store_counts", ())):  # fmt: skip
                try:
                    ui._read(str(store_copy), name, args, ())  # what a page's cache miss runs
                    reads["ok"] += 1
                except writes.StoreBusy:
                    reads["busy"] += 1  # the page says "retrying" and reruns
                except BaseException as exc:  # reported below
                    errors.append(exc)
                    return

    def triage() -> None:
        index = 0
        while not stop.is_set():
            decided = base + timedelta(seconds=index)
            try:
                outcome = writes.triage(
                    store_copy, [incidents[index % len(incidents)]],
                    # each visit to an incident moves its status, so a decision made at once is
                    # "written" however many of the first ones were queued behind detect
                    ("acknowledged", "resolved")[index // len(incidents) % 2],
                    note=f"decision {index}",
                    analyst="Stress Sam", now=decided, kind="incident",
                    attempts=3, wait_s=0.1,
                )  # fmt: skip
            except BaseException as exc:  # reported below
                errors.append(exc)
                return
            decisions.append((decided, outcome))
            index += 1
            time.sleep(0.3)

    threads = [threading.Thread(target=read_pages), threading.Thread(target=triage)]
    for thread in threads:
        thread.start()
    results = []
    try:
        for _ in range(DETECT_RUNS):
            results.append(tokensentry(store_copy, "detect", "--detector", "off_allowlist_ip"))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors, errors
    failed = [(r.returncode, r.stderr[-500:]) for r in results if r.returncode != 0]
    assert failed == []
    assert reads["ok"] > DETECT_RUNS
    outcomes = {outcome for _, outcome in decisions}
    # "note": the same status again with a new note is recorded as a note, not as a change.
    assert len(decisions) > DETECT_RUNS and {"written", "queued"} <= outcomes
    assert outcomes <= {"written", "queued", "note"}
    assert reads["busy"] > 0  # the readers really met the pipeline
    deadline = time.monotonic() + 60
    while writes.pending(store_copy) and time.monotonic() < deadline:
        time.sleep(0.2)  # the flusher lands the last queued ones
    assert writes.pending(store_copy) == 0
    landed = {line[0] for line in audit_lines(store_copy, "Stress Sam") if line[1] == "incident"}
    assert landed == {decided for decided, _ in decisions}
