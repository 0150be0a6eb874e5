"""What ingest remembers: cursors that only ingest moves, retention gaps, exit status, and a real
`kill -9` of an ingest process followed by a resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from dashboard.cli import cli
from ingest import db, retention

from ..conftest import REPO
from .helpers import envelope, run_import, write_json
from .live import (
    INITECH,
    NOW,
    acme,
    count,
    ingest,
    initech,
    keys,
    the_org,
    unit,
    write_config,
)  # fmt: skip

__all__ = ["acme", "initech", "keys"]  # fixtures used by name
HISTORY = "SELECT count(*) FROM raw_records WHERE source_id = 'soql:LoginHistory'"


def test_import_never_moves_the_ingest_cursor(store, initech, keys, tmp_path):
    rows = the_org(initech).objects["LoginHistory"]
    newest = sorted(rows, key=lambda r: r["LoginTime"])[-40:]  # a partial export of today
    run_import(store, write_json(tmp_path / "export.json", envelope(newest)), org=INITECH)
    assert count(store, HISTORY) == 40
    summary = ingest(store, write_config(initech, keys, tmp_path))
    assert unit(summary, "login_history").status == "ok"
    assert count(store, HISTORY) == len(rows)  # nothing before the imported rows was skipped


def test_a_late_fetch_records_the_retention_gap(store, initech, keys, tmp_path):
    config = write_config(initech, keys, tmp_path)
    ingest(store, config, "first")
    later = NOW + timedelta(days=200)  # LoginHistory is kept about 180 days
    summary = ingest(store, config, "much-later", now=later)
    assert not summary.failed
    history = unit(summary, "login_history")
    assert any("retention gap" in n.message for n in history.notes)
    gaps = retention.read_gaps(store)
    assert [(g["source_id"], g["gap_start"], g["gap_end"]) for g in gaps] == [
        ("login_history", NOW, later - timedelta(days=180))
    ]
    assert gaps[0]["verified"] is False and gaps[0]["org_id"] == INITECH
    again = ingest(store, config, "retry", now=later + timedelta(hours=2))
    assert not again.failed and len(retention.read_gaps(store)) == 1  # nothing new lost


def test_every_retention_entry_names_its_source():
    for entry in retention.TABLE:
        assert entry.days > 0 and entry.reference
    assert retention.retention_for("event_log_file", "free").days == 1
    assert retention.retention_for("event_log_file", "event_monitoring").days == 30
    assert retention.retention_for("oauth_token", "free") is None


def cli_run(db_path, config_path, *args: str):
    return CliRunner().invoke(cli, ["--db", str(db_path), "--config", str(config_path), *args])


def test_reported_facts_exit_zero(initech, keys, tmp_path):
    org = the_org(initech)
    org.faults.usage_shape = "unrecognised"
    org.permissions["PermissionsManageUsers"] = False
    config = write_config(initech, keys, tmp_path, '\n[orgs.archive]\norg_id = "00D5g000004XyZb"\n')
    result = cli_run(tmp_path / "s.duckdb", config, "ingest", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {u["status"] for u in report["units"]} == {"partial"}
    assert report["notes"] == [
        "orgs.archive: import-only (no instance_url / auth), skipped by ingest"
    ]


def test_one_orgs_broken_connection_fails_its_ingest_only(initech, keys, tmp_path):
    broken = (
        '\n[orgs.broken]\norg_id = "00D5g000004XyZb"\ninstance_url = "http://insecure.example"\n'
    )
    config = write_config(initech, keys, tmp_path, broken)
    db_path = tmp_path / "s.duckdb"
    result = cli_run(db_path, config, "ingest", "--format", "json")
    assert result.exit_code == 1
    by_org = {}
    for u in json.loads(result.stdout)["units"]:
        by_org.setdefault(u["org"], set()).add((u["status"], u["error"]))
    assert {s for s, _ in by_org["initech-prod"]} == {"ok"}
    assert {e for _, e in by_org["broken"]} == {
        "orgs.broken.instance_url: must be an https:// URL, not 'http://insecure.example'"
    }
    export = write_json(tmp_path / "e.json", envelope(the_org(initech).objects["LoginHistory"][:5]))
    for args in (("import", "--org", "00D5g000004XyZb", str(export)), ("detect",), ("alerts",)):
        assert cli_run(db_path, config, *args).exit_code == 0, args


@pytest.mark.parametrize(
    "text",
    ["[orgs\n", '[digest]\nsecurity = "ssl"\n', "[ingest]\nworkers = 0\n"],
    ids=["toml", "digest", "ingest"],
)
def test_an_unparsable_file_or_broken_shared_section_exits_2(tmp_path, text):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    for args in (("ingest",), ("detect",), ("alerts",)):
        result = cli_run(tmp_path / "s.duckdb", config, *args)
        assert result.exit_code == 2, (args, result.output)


def raw_state(con) -> dict:
    rows = con.execute(
        "SELECT org_id, source_id, count(*), count(DISTINCT record_id) FROM raw_records "
        "WHERE source_id NOT LIKE 'ingest_window:%' GROUP BY ALL"
    ).fetchall()
    state = {(org, source): (n, distinct) for org, source, n, distinct in rows}
    state["raw_elf"] = con.execute(
        "SELECT count(*), count(DISTINCT _record_id) FROM raw_elf"
    ).fetchone()
    state["events"] = con.execute(
        "SELECT count(*), count(DISTINCT event_id), count(DISTINCT identity_key) FROM events"
    ).fetchone()
    return state


def test_kill_9_after_the_third_commit_then_resume_loses_and_doubles_nothing(acme, keys, tmp_path):
    config = write_config(acme, keys, tmp_path)
    killed_db, clean_db = tmp_path / "killed.duckdb", tmp_path / "clean.duckdb"
    signal_file = tmp_path / "halted"
    env = {
        **os.environ,
        "TOKENSENTRY_HALT_AFTER_COMMITS": "3",
        "TOKENSENTRY_HALT_SIGNAL": str(signal_file),
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "dashboard.cli", "--db", str(killed_db), "--config", str(config),
         "ingest", "--format", "json"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while not signal_file.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert signal_file.exists(), child.stderr.read().decode() if child.poll() is not None else ""
    assert signal_file.read_text().split() == [str(child.pid), "3"]
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=60) == -signal.SIGKILL
    now = datetime.now(UTC).replace(tzinfo=None)
    with db.connect(killed_db) as con:
        assert count(con, "SELECT count(*) FROM raw_records") > 0  # three batches landed
        assert not ingest(con, config, "resume", now=now).failed
        resumed = raw_state(con)
    with db.connect(clean_db) as con:
        assert not ingest(con, config, "clean", now=now).failed
        clean = raw_state(con)
    assert resumed == clean  # zero gaps
    for key, counts in resumed.items():
        assert len(set(counts[:2])) == 1, key  # zero duplicates
