"""A run whose process died (kill -9) reads as `interrupted` on /pipeline and in the digest,
and the next run of the same unit records it so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from dashboard import queries
from dashboard.queries import digest as digest_queries
from ingest import db, runs

REPO = Path(__file__).resolve().parents[2]


def test_kill_9_during_detect_leaves_an_interrupted_run_not_a_running_one(store_copy):
    signal_file = store_copy.parent / "halted"
    env = {
        **os.environ,
        "TOKENSENTRY_HALT_AFTER_COMMITS": "1",  # right after the first detector's start
        "TOKENSENTRY_HALT_SIGNAL": str(signal_file),
    }
    command = [sys.executable, "-m", "dashboard.cli", "--db", str(store_copy),
               "--config", str(store_copy.parent / "tokensentry.toml"), "detect"]  # fmt: skip
    child = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while not signal_file.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert signal_file.exists(), child.stderr.read().decode() if child.poll() is None else ""
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=60) == -signal.SIGKILL
    killed_at = datetime.now()

    with db.connect(store_copy, read_only=True) as con:  # judged when read, nothing written
        raw = con.execute(
            "SELECT unit_id, owner_pid, owner_host FROM runs WHERE status = 'running'"
        ).fetchall()
        assert len(raw) == 1 and raw[0][1] == child.pid
        unit = raw[0][0]
        shown = queries.runs(con, "detect", 200)
        row = shown[shown["unit_id"] == unit].iloc[0]
        assert row["status"] == "interrupted"
        assert f"pid {child.pid}" in row["error"]
        per_detector = queries.detector_runs(con).set_index("detector")
        assert per_detector.loc[unit, "last_status"] == "interrupted"
        assert per_detector.loc[unit, "failed_runs"] >= 1
        problems = digest_queries.failed_units(con, killed_at - timedelta(days=3650))
        assert unit in set(problems[problems["status"] == "interrupted"]["unit_id"])

    result = subprocess.run(
        [*command[:-1], "detect", "--detector", unit], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    with db.connect(store_copy, read_only=True) as con:
        statuses = con.execute(
            "SELECT status FROM runs WHERE stage = 'detect' AND unit_id = ? ORDER BY started_at",
            [unit],
        ).fetchall()
        assert ("interrupted",) in statuses and statuses[-1] == ("ok",)
        assert con.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone() == (0,)


def test_liveness_rules():
    now = datetime(2026, 12, 1, 12, 0)
    pid, host, started = runs.owner()
    assert runs.interruption(pid, host, started, now, now, now=now) is None  # this process
    gone = runs.interruption(2**22 + 7, host, None, now, now, now=now)
    assert gone and "ended without finishing" in gone
    other_host = runs.interruption(pid, "elsewhere", None, now - timedelta(hours=1), now, now=now)
    assert other_host is None  # another machine: only the heartbeat can tell
    stale = runs.interruption(pid, "elsewhere", None, now - timedelta(days=1), now, now=now)
    assert stale and "no sign of life" in stale
    legacy = runs.interruption(None, None, None, None, now - timedelta(days=2), now=now)
    assert legacy  # a row from before the owner columns, running for two days
    if started is not None:  # the same pid, but a different process (pid reuse)
        reused = runs.interruption(pid, host, started - timedelta(hours=1), now, now, now=now)
        assert reused
