"""Triage writes the audit trail: alerts and incidents, from the library and the CLI."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner

from dashboard import queries
from dashboard.cli import cli
from detect import runner
from detect.testing import config
from ingest import db
from ingest.errors import InputError
from tests.dashboard.incident_helpers import T0, group, put_alert

ATTACKER = "208.68.36.90"


def test_alert_triage_appends_who_when_from_to_note(store):
    put_alert(store, "a1", ips=[ATTACKER])
    queries.triage(store, ["a1"], "acknowledged", note="looking", analyst="ana", now=T0)
    queries.triage(store, ["a1"], "false_positive", note="our NAT", analyst="bo",
                   now=T0 + timedelta(minutes=5), via="dashboard")  # fmt: skip
    trail = queries.audit_trail(store, "a1")
    assert trail[["analyst", "from_status", "to_status", "note", "via"]].values.tolist() == [
        ["ana", "new", "acknowledged", "looking", "api"],
        ["bo", "acknowledged", "false_positive", "our NAT", "dashboard"],
    ]
    assert list(trail["changed_at"]) == [T0, T0 + timedelta(minutes=5)]


def test_incident_triage_records_the_incident_and_each_alert_it_held(store):
    put_alert(store, "a1", ips=[ATTACKER])
    put_alert(store, "a2", ips=[ATTACKER], hours=1)
    group(store)
    changes = queries.triage(store, ["a1"], "resolved", note="done", analyst="ana", now=T0)
    assert [(c.target_kind, c.target_id) for c in changes] == [
        ("incident", "a1"), ("alert", "a1"), ("alert", "a2"),
    ]  # fmt: skip
    trail = queries.audit_trail(store, "a1")
    assert len(trail) == 3 and set(trail["to_status"]) == {"resolved"}
    assert list(queries.audit_trail(store, "a2")["incident_id"]) == ["a1"]


def test_kind_alert_triages_only_the_first_alert(store):
    put_alert(store, "a1", ips=[ATTACKER])
    put_alert(store, "a2", ips=[ATTACKER], hours=1)
    group(store)
    queries.triage(store, ["a1"], "acknowledged", note=None, analyst="ana", now=T0, kind="alert")
    statuses = queries.incident_alerts(store, "a1").set_index("alert_id")["status"].to_dict()
    assert statuses == {"a1": "acknowledged", "a2": "new"}
    assert queries.incident(store, "a1")["status"] == "new"


def test_unknown_ids_and_statuses_write_nothing(store):
    put_alert(store, "a1", ips=[ATTACKER])
    with pytest.raises(InputError, match="nope"):
        queries.triage(store, ["a1", "nope"], "resolved", note=None, analyst="ana", now=T0)
    with pytest.raises(InputError, match="status"):
        queries.triage(store, ["a1"], "closed", note=None, analyst="ana", now=T0)
    with pytest.raises(InputError, match="incident"):
        queries.triage(store, ["a1"], "resolved", note=None, analyst="ana", now=T0, kind="incident")
    assert store.execute("SELECT count(*) FROM triage").fetchone() == (0,)
    assert store.execute("SELECT count(*) FROM audit_log").fetchone() == (0,)


def test_detection_never_overwrites_triage(store):
    from detect.testing import insert_events, refresh

    insert_events(store, [refresh("2026-11-01T09:00:00", ATTACKER)])
    clock = iter(T0 + timedelta(days=1, seconds=s) for s in range(1000))
    runner.run(store, config(), run_id="d1", now=lambda: next(clock))
    [incident_id] = queries.incidents(store)["incident_id"]
    queries.triage(store, [incident_id], "false_positive", note="ours", analyst="ana", now=T0)
    before = store.execute("SELECT * FROM triage ORDER BY 1").fetchall()
    insert_events(store, [refresh("2026-11-01T10:00:00", ATTACKER)])
    runner.run(store, config(), run_id="d2", now=lambda: next(clock), rescan_all=True)
    assert store.execute("SELECT * FROM triage ORDER BY 1").fetchall() == before
    assert len(queries.audit_trail(store, incident_id)) == 1 + len(before)


def test_cli_triage_accepts_an_incident_id_and_writes_the_trail(tmp_path):
    path = tmp_path / "store.duckdb"
    with db.connect(path) as con:
        put_alert(con, "a1", ips=[ATTACKER])
        put_alert(con, "a2", ips=[ATTACKER], hours=1)
        group(con)
    result = CliRunner().invoke(
        cli,
        ["--db", str(path), "triage", "a1", "--status", "resolved", "--note", "blocked",
         "--analyst", "ana"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "incident a1" in result.stderr
    with db.connect(path, read_only=True) as con:
        trail = queries.audit_trail(con, "a1")
        assert set(trail["via"]) == {"cli"} and len(trail) == 3
        assert queries.incident(con, "a1")["status"] == "resolved"
    result = CliRunner().invoke(
        cli, ["--db", str(path), "triage", "a2", "--alert", "--status", "new", "--analyst", "bo"]
    )
    assert result.exit_code == 0, result.output
    with db.connect(path, read_only=True) as con:
        assert queries.incident(con, "a1")["status"] == "new"
    result = CliRunner().invoke(cli, ["--db", str(path), "triage", "zzz", "--status", "resolved"])
    assert result.exit_code == 2 and "zzz" in result.stderr
