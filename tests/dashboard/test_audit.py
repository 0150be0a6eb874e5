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


def _lines(con, target: str) -> list[list]:
    return queries.audit_trail(con, target)[
        ["target_kind", "target_id", "from_status", "to_status", "note"]
    ].values.tolist()


def test_a_decision_that_changes_nothing_writes_no_line(store):
    put_alert(store, "a1", ips=[ATTACKER])
    queries.triage(store, ["a1"], "false_positive", note="our NAT", analyst="ana", now=T0)
    again = queries.triage(store, ["a1"], "false_positive", note=None, analyst="bo",
                           now=T0 + timedelta(minutes=1))  # fmt: skip
    assert again == []
    assert queries.triage(store, ["a1"], "false_positive", note="  ", analyst="bo", now=T0) == []
    assert _lines(store, "a1") == [["alert", "a1", "new", "false_positive", "our NAT"]]
    put_alert(store, "b1", ips=["192.0.2.1"], hours=2)
    assert queries.triage(store, ["b1"], "new", note=None, analyst="bo", now=T0) == []  # untriaged
    assert queries.audit_trail(store, "b1").empty


def test_a_note_alone_is_one_note_line_not_a_change(store):
    put_alert(store, "a1", ips=[ATTACKER])
    put_alert(store, "a2", ips=[ATTACKER], hours=1)
    group(store)
    queries.triage(store, ["a1"], "resolved", note="done", analyst="ana", now=T0)
    [note] = queries.triage(store, ["a1"], "resolved", note="ticket 42 closed", analyst="bo",
                            now=T0 + timedelta(minutes=1))  # fmt: skip
    assert note.note_only and (note.target_kind, note.target_id) == ("incident", "a1")
    trail = _lines(store, "a1")
    assert len(trail) == 4  # the change: incident + 2 alerts; then one note line
    assert trail[-1] == ["incident", "a1", "resolved", "resolved", "ticket 42 closed"]
    assert queries.incident(store, "a1")["status"] == "resolved"


def test_incident_triage_lines_only_the_alerts_that_move(store):
    put_alert(store, "a1", ips=[ATTACKER])
    put_alert(store, "a2", ips=[ATTACKER], hours=1)
    group(store)
    queries.triage(store, ["a2"], "acknowledged", note=None, analyst="ana", now=T0, kind="alert")
    changes = queries.triage(store, ["a1"], "acknowledged", note=None, analyst="bo",
                             now=T0 + timedelta(minutes=1))  # fmt: skip
    assert [(c.target_kind, c.target_id, c.from_status) for c in changes] == [
        ("incident", "a1", "new"), ("alert", "a1", "new"),
    ]  # fmt: skip


def test_queued_decisions_follow_the_same_rule(tmp_path):
    from dashboard.web import writes

    path = tmp_path / "store.duckdb"
    with db.connect(path) as con:
        put_alert(con, "a1", ips=[ATTACKER])
    for minute, note in ((0, "ours"), (1, None), (2, "still ours")):
        writes.enqueue(path, {"id": f"q{minute}", "ids": ["a1"], "status": "false_positive",
                              "note": note, "analyst": "ana", "kind": "alert",
                              "now": (T0 + timedelta(minutes=minute)).isoformat()})  # fmt: skip
    with db.connect(path) as con:  # opening a writer drains the queue
        assert writes.pending(path) == 0
        assert _lines(con, "a1") == [
            ["alert", "a1", "new", "false_positive", "ours"],
            ["alert", "a1", "false_positive", "false_positive", "still ours"],
        ]


def test_cli_triage_that_changes_nothing_says_so_and_writes_nothing(tmp_path):
    path = tmp_path / "store.duckdb"
    with db.connect(path) as con:
        put_alert(con, "a1", ips=[ATTACKER])
    base = ["--db", str(path), "triage", "a1", "--status", "false_positive", "--analyst", "ana"]
    assert CliRunner().invoke(cli, base).exit_code == 0
    result = CliRunner().invoke(cli, base)
    assert result.exit_code == 0 and "nothing changed" in result.stderr
    noted = CliRunner().invoke(cli, [*base, "--note", "seen again"])
    assert noted.exit_code == 0 and "note recorded" in noted.stderr
    with db.connect(path, read_only=True) as con:
        assert [row[2:4] for row in _lines(con, "a1")] == [
            ["new", "false_positive"], ["false_positive", "false_positive"],
        ]  # fmt: skip


def test_an_incident_whose_status_stays_keeps_its_line_when_alerts_move(store):
    put_alert(store, "a1", ips=[ATTACKER])
    put_alert(store, "a2", ips=[ATTACKER], hours=1)
    group(store)
    queries.triage(store, ["a1"], "resolved", note=None, analyst="ana", now=T0, kind="alert")
    queries.triage(store, ["a2"], "false_positive", note=None, analyst="ana", now=T0, kind="alert")
    assert queries.incident(store, "a1")["status"] == "resolved"
    changes = queries.triage(store, ["a1"], "resolved", note=None, analyst="bo",
                             now=T0 + timedelta(minutes=1))  # fmt: skip
    assert [(c.target_kind, c.target_id, c.from_status) for c in changes] == [
        ("incident", "a1", "resolved"), ("alert", "a2", "false_positive"),
    ]  # fmt: skip


def test_the_dashboard_is_told_when_a_decision_changes_nothing(tmp_path):
    from dashboard.web import writes

    path = tmp_path / "store.duckdb"
    with db.connect(path) as con:
        put_alert(con, "a1", ips=[ATTACKER])
    decide = dict(note=None, analyst="ana", now=T0, kind="alert")
    assert writes.triage(path, ["a1"], "resolved", **decide) == "written"
    assert writes.triage(path, ["a1"], "resolved", **decide) == "unchanged"
    assert writes.triage(path, ["a1"], "resolved", **{**decide, "note": "again"}) == "note"
