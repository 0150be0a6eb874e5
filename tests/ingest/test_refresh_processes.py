"""The refresh helper across processes: a minute of 100 threads in 4 processes on one refresh
token chain, and workers killed mid-exchange (after storing, and after sending)."""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
import types
from collections import Counter

import pytest

from ingest.refresh_helper import FileRefreshLock, FileTokenStore, ReauthorizationRequired

from .refresh_checks import MEDIUM_OR_ABOVE, assert_no_secret
from .refresh_support import (
    KEY,
    ORG_ID,
    USER_ID,
    authorize,
    hammer,
    helper,
    judge,
    read_log,
    refresh_once,
)

# The issue asks for a minute; TOKENSENTRY_SOAK_S shortens it for a local run only.
SOAK_S = float(os.environ.get("TOKENSENTRY_SOAK_S", "60"))

pytestmark = pytest.mark.usefixtures("fp_key")  # the helper refuses to start without it


@pytest.mark.xdist_group("refresh-soak")
def test_100_threads_in_4_processes_for_a_minute(fake, tmp_path):
    folder = tmp_path / "store"
    log = tmp_path / "tokens.jsonl"
    h = helper(fake.url, str(fake.ca_path), folder, log, worker="setup")
    authorize(h, str(fake.ca_path))
    fake.orgs[0].faults.expire_session_on = set(range(7, 100_000, 41))  # sessions die too
    args = (fake.url, str(fake.ca_path), str(folder), str(log))
    processes = [_run(hammer, *args, n, 25, SOAK_S, 1.0) for n in range(4)]
    for process in processes:
        process.join(SOAK_S + 120)
        assert process.exitcode == 0
    summaries = [json.loads((folder / f"summary-{n}.json").read_text()) for n in range(4)]
    assert [s["errors"] for s in summaries] == [[], [], [], []]
    assert all(s["calls"] > 0 and s["api_calls"] > 0 for s in summaries)
    lines = read_log(log)
    refreshes = [line for line in lines if line["grant_type"] == "refresh_token"]
    assert {line["outcome"] for line in lines} == {"success"}
    assert not [e for e in fake.oauth.exchanges if e.outcome == "invalid_grant"]
    # One chain: every token presented once, each the one the previous exchange issued.
    presented = Counter(line["token_fp"] for line in refreshes)
    assert max(presented.values()) == 1
    chain = [lines[0]["new_token_fp"]] + [line["new_token_fp"] for line in refreshes]
    assert [line["token_fp"] for line in refreshes] == chain[:-1]
    assert len(refreshes) >= SOAK_S / 2  # refreshed about once a second
    # Several processes refreshed in turn: the cross-process lock, not luck, kept one chain.
    assert len({line["worker"] for line in refreshes}) >= 2
    assert_no_secret(log.read_text(), fake)
    report, alerts = judge(log, tmp_path)
    assert report["totals"]["rows_quarantined"] == 0
    assert report["totals"]["rows_new"] == len(lines)
    assert not [a for a in alerts if a["severity"] in MEDIUM_OR_ABOVE], alerts


def _run(target, *args) -> multiprocessing.Process:
    """Start `target` in a spawned process. Spawn re-runs the parent's `__main__` file in the
    child; in a pytest-xdist worker an earlier Streamlit AppTest may have left its generated
    script there (NameError in the child), so the child gets a bare `__main__` instead: the
    targets live in tests.ingest.refresh_support and are imported by name."""
    process = multiprocessing.get_context("spawn").Process(target=target, args=args)
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        process.start()
    finally:
        sys.modules["__main__"] = main
    return process


def test_worker_killed_after_storing_leaves_the_new_token(setup, fake):
    _, folder, log = setup
    process = _run(refresh_once, fake.url, str(fake.ca_path), str(folder), str(log), True)
    process.join(60)
    assert process.exitcode == -9  # SIGKILL, holding the lock
    with FileRefreshLock(folder, timeout_s=5).hold(KEY):  # released by the OS
        state = FileTokenStore(folder).load(KEY)
    assert state.in_flight is None
    assert state.refresh_token == fake.oauth.current_refresh_token(ORG_ID, USER_ID)
    h = helper(fake.url, str(fake.ca_path), folder, log, worker="next", max_access_age_s=0.0)
    h.access_token(KEY)
    assert [line["outcome"] for line in read_log(log)] == ["success"] * 3


def test_worker_killed_mid_exchange_is_recovered_by_the_next(setup, fake, tmp_path):
    _, folder, log = setup
    fake.oauth.faults.late_answer_next, fake.oauth.faults.late_answer_s = 1, 20.0
    process = _run(refresh_once, fake.url, str(fake.ca_path), str(folder), str(log), False)
    deadline = time.monotonic() + 60
    while not [e for e in fake.oauth.exchanges if e.grant == "refresh_token"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.kill()  # Salesforce rotated the token; the answer never reaches the worker
    process.join(10)
    with FileRefreshLock(folder, timeout_s=5).hold(KEY):
        state = FileTokenStore(folder).load(KEY)
    assert state.in_flight is not None and state.in_flight.worker == "doomed"
    h = helper(fake.url, str(fake.ca_path), folder, log, worker="next", max_access_age_s=0.0)
    with pytest.raises(ReauthorizationRequired, match="re-authorize"):
        h.access_token(KEY)
    h.max_access_age_s = 3600.0
    authorize(h, str(fake.ca_path))  # the documented recovery
    assert h.request(KEY, "GET", "/services/data/v62.0/limits").status_code == 200
    lines = read_log(log)
    assert [(line["worker"], line["outcome"]) for line in lines] == [
        ("unit", "success"), ("doomed", "error"), ("next", "invalid_grant"), ("next", "success")]  # fmt: skip
    assert lines[1]["token_fp"] == lines[2]["token_fp"]
    report, alerts = judge(log, tmp_path)
    assert report["totals"]["rows_quarantined"] == 0
    assert [a["evidence"]["classification"] for a in alerts
            if a["detector"] == "refresh_token_reuse"] == ["retry"]  # fmt: skip
    assert not [a for a in alerts if a["severity"] in MEDIUM_OR_ABOVE], alerts
