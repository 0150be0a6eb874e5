"""Incidents: which alerts group, which never do, ids that never change, reopening, cross-org."""

from __future__ import annotations

from datetime import timedelta

from dashboard import queries
from detect import runner
from detect.testing import (
    ALLOWED_IP,
    HUMAN,
    OTHER_ORG,
    config,
    insert_events,
    partner_call,
    refresh,
    ui_login,
)
from tests.dashboard.incident_helpers import T0, group, membership, put_alert

ATTACKER = "208.68.36.90"


def test_alerts_sharing_an_ip_in_one_org_are_one_incident(store):
    put_alert(store, "a1", ips=[ATTACKER], severity="medium")
    put_alert(store, "a2", detector="suspicious_client", ips=[ATTACKER], hours=2, severity="high")
    put_alert(store, "a3", detector="new_network", ips=[ATTACKER], hours=20, severity="low")
    outcome = group(store)
    assert membership(store) == {"a1": "a1", "a2": "a1", "a3": "a1"}
    assert (outcome.incidents_new, outcome.alerts_linked) == (1, 3)
    row = queries.incident(store, "a1")
    assert row["severity"] == "high" and row["alert_count"] == 3 and row["status"] == "new"
    assert row["ips"] == [ATTACKER]
    assert row["detectors"] == ["new_network", "off_allowlist_ip", "suspicious_client"]
    assert row["summary"].startswith("3 alerts (") and "summary of a2" in row["summary"]


def test_no_link_across_orgs_or_beyond_24_hours_or_without_a_shared_key(store):
    put_alert(store, "a1", ips=[ATTACKER])
    put_alert(store, "other-org", org_id=OTHER_ORG, ips=[ATTACKER], hours=1)
    put_alert(store, "other-ip", ips=["208.68.36.91"], hours=1)
    put_alert(store, "too-late", ips=[ATTACKER], hours=1 + 24 + 0.5)  # a1 ends at +1 h
    group(store)
    assert set(membership(store).values()) == {"a1", "other-org", "other-ip", "too-late"}


def test_the_window_runs_from_the_incidents_last_alert(store):
    put_alert(store, "a1", ips=[ATTACKER])
    put_alert(store, "a2", ips=[ATTACKER], hours=20)
    put_alert(store, "a3", ips=[ATTACKER], hours=44)  # 23 h after a2 ended, 43 h after a1
    group(store)
    assert set(membership(store).values()) == {"a1"}


def test_allowlisted_and_known_egress_addresses_never_link(store):
    put_alert(store, "a1", ips=[ALLOWED_IP])
    put_alert(store, "a2", detector="new_network", ips=[ALLOWED_IP], hours=1)
    put_alert(store, "b1", ips=["198.51.100.9"], hours=2)
    put_alert(store, "b2", detector="new_network", ips=["198.51.100.9"], hours=3)
    queries.add_known_egress(
        store, "198.51.100.0/24", expires_at=T0 + timedelta(days=90), analyst="ana", now=T0
    )
    group(store)
    assert set(membership(store).values()) == {"a1", "a2", "b1", "b2"}


def test_expired_or_removed_known_egress_links_again(store):
    put_alert(store, "a1", ips=["198.51.100.9"])
    put_alert(store, "a2", detector="new_network", ips=["198.51.100.9"], hours=1)
    entry = queries.add_known_egress(
        store, "198.51.100.9", expires_at=T0 + timedelta(days=1), analyst="ana", now=T0
    )
    assert queries.remove_known_egress(store, entry, analyst="ana", now=T0 + timedelta(hours=1))
    group(store, now=T0 + timedelta(hours=2))
    assert membership(store) == {"a1": "a1", "a2": "a1"}


def test_a_person_links_by_user_an_integration_user_does_not(store):
    insert_events(store, [ui_login("2026-10-30T08:00:00", "192.0.2.1")])
    put_alert(store, "p1", detector="impossible_travel", user_id=HUMAN, ips=["192.0.2.1"])
    put_alert(store, "p2", detector="new_network", user_id=HUMAN, ips=["192.0.2.77"], hours=3)
    put_alert(store, "i1", user_id="005INTEGRATION", ips=["192.0.2.8"], hours=1)
    put_alert(store, "i2", user_id="005INTEGRATION", ips=["192.0.2.9"], hours=2)
    group(store)
    found = membership(store)
    assert found["p2"] == "p1"
    assert found["i1"] != found["i2"]


def test_alerts_on_one_token_chain_link(store):
    events = [
        partner_call("2026-11-01T09:00:00", "192.0.2.50", token_fp="fpA", new_token_fp="fpB"),
        partner_call("2026-11-01T10:00:00", "192.0.2.60", token_fp="fpB", new_token_fp="fpC"),
    ]
    insert_events(store, events)
    put_alert(store, "t1", detector="refresh_token_reuse", ips=["192.0.2.50"],
              event_ids=[events[0]["event_id"]])  # fmt: skip
    put_alert(store, "t2", ips=["192.0.2.60"], hours=1, event_ids=[events[1]["event_id"]])
    group(store)
    assert membership(store) == {"t1": "t1", "t2": "t1"}
    assert store.execute("SELECT link FROM incident_alerts WHERE alert_id = 't2'").fetchone() == (
        "token:fpB",
    )


def test_the_id_is_the_first_alerts_and_never_changes(store):
    put_alert(store, "zz-first", ips=[ATTACKER], hours=5)
    group(store)
    put_alert(store, "aa-earlier", ips=[ATTACKER], hours=0)  # late evidence of an earlier start
    group(store)
    assert membership(store) == {"zz-first": "zz-first", "aa-earlier": "zz-first"}
    assert queries.incident(store, "zz-first")["first_seen"] == T0


def test_grouping_is_idempotent(store):
    put_alert(store, "a1", ips=[ATTACKER])
    put_alert(store, "a2", ips=[ATTACKER], hours=1)
    group(store)
    before = store.execute("SELECT * FROM incidents ORDER BY 1").fetchall()
    members = store.execute("SELECT * FROM incident_alerts ORDER BY 1").fetchall()
    outcome = group(store, now=T0 + timedelta(days=40))
    assert (outcome.alerts_linked, outcome.incidents_new, outcome.incidents_updated) == (0, 0, 0)
    assert store.execute("SELECT * FROM incidents ORDER BY 1").fetchall() == before
    assert store.execute("SELECT * FROM incident_alerts ORDER BY 1").fetchall() == members


def test_triage_applies_to_held_alerts_and_a_later_alert_reopens(store):
    put_alert(store, "a1", ips=[ATTACKER])
    put_alert(store, "a2", ips=[ATTACKER], hours=1)
    group(store)
    queries.triage(
        store, ["a1"], "resolved", note="blocked", analyst="ana", now=T0, kind="incident"
    )
    assert queries.incident(store, "a1")["status"] == "resolved"
    put_alert(store, "a3", detector="new_network", ips=[ATTACKER], hours=3)
    group(store)
    row = queries.incident(store, "a1")
    assert (row["status"], row["reopened"], row["alert_count"]) == ("new", True, 3)
    statuses = queries.incident_alerts(store, "a1").set_index("alert_id")["status"].to_dict()
    assert statuses == {"a1": "resolved", "a2": "resolved", "a3": "new"}


def test_cross_org_alert_links_the_incidents_it_summarises(store):
    put_alert(store, "x1", ips=[ATTACKER])
    put_alert(store, "y1", org_id=OTHER_ORG, ips=["208.68.36.91"], hours=1)
    put_alert(store, "y2", org_id=OTHER_ORG, ips=["208.68.36.91"], hours=2)
    put_alert(store, "c1", detector="cross_org", org_id=None, ips=[ATTACKER, "208.68.36.91"],
              severity="critical", evidence={"alerts": ["x1", "y2"]}, hours=1)  # fmt: skip
    group(store)
    assert membership(store)["c1"] == "c1"
    cross = queries.incident(store, "c1")
    assert cross["linked_incidents"] == ["x1", "y1"] and cross["org_id"] is None
    assert cross["severity"] == "critical"
    assert queries.incident(store, "y1")["linked_by"] == ["c1"]
    assert queries.incident(store, "c1")["linked_by"] == []


def test_incidents_filters(store):
    put_alert(store, "a1", ips=[ATTACKER], severity="critical")
    put_alert(store, "b1", org_id=OTHER_ORG, ips=["192.0.2.1"], app="Other App", hours=1,
              severity="low", detector="new_network")  # fmt: skip
    group(store)
    everything = queries.incidents(store)
    assert list(everything["incident_id"]) == ["a1", "b1"]
    pick = queries.Filters
    assert list(queries.incidents(store, pick(org_ids=[OTHER_ORG]))["incident_id"]) == ["b1"]
    assert list(queries.incidents(store, pick(apps=["acme sync"]))["incident_id"]) == ["a1"]
    assert list(queries.incidents(store, pick(severities=["low"]))["incident_id"]) == ["b1"]
    assert list(queries.incidents(store, pick(detectors=["new_network"]))["incident_id"]) == ["b1"]
    assert list(queries.incidents(store, pick(ip=ATTACKER))["incident_id"]) == ["a1"]
    assert list(queries.incidents(store, pick(text="OTHER app"))["incident_id"]) == ["b1"]
    assert queries.incidents(store, pick(text="100%_")).empty
    late = pick(start=T0 + timedelta(days=3))
    assert queries.incidents(store, late).empty
    assert list(queries.incidents(store, pick(statuses=["new"]))["incident_id"]) == ["a1", "b1"]


def test_detect_groups_real_detector_alerts(store):
    """End to end: off_allowlist_ip and suspicious_client on one address, one incident."""
    insert_events(store, [
        refresh("2026-11-01T09:00:00", ATTACKER, user_agent="python-requests/2.31"),
        refresh("2026-11-01T09:05:00", ATTACKER, user_agent="python-requests/2.31"),
    ])  # fmt: skip
    clock = iter(T0 + timedelta(days=1, seconds=s) for s in range(1000))
    summary = runner.run(store, config(), run_id="d1", now=lambda: next(clock))
    assert summary.incidents is not None and summary.incidents.status == "ok"
    detectors = set(queries.alerts(store)["detector"])
    assert {"off_allowlist_ip", "suspicious_client"} <= detectors
    frame = queries.incidents(store)
    assert len(frame) == 1 and frame.iloc[0]["alert_count"] == len(queries.alerts(store))
    again = runner.run(store, config(), run_id="d2", now=lambda: next(clock), rescan_all=True)
    assert again.incidents.alerts_linked == 0 and again.incidents.incidents_updated == 0
    assert store.execute("SELECT status FROM runs WHERE unit_id = 'incidents'").fetchall() == [
        ("ok",),
        ("ok",),
    ]


def test_cli_lists_incidents_as_json_and_csv(tmp_path):
    import csv
    import io
    import json

    from click.testing import CliRunner

    from dashboard.cli import cli
    from ingest import db

    path = tmp_path / "store.duckdb"
    with db.connect(path) as con:
        put_alert(con, "a1", ips=[ATTACKER], severity="critical")
        put_alert(con, "a2", ips=[ATTACKER], hours=1)
        put_alert(con, "b1", ips=["192.0.2.1"], hours=2, severity="low", app="=SUM(A1)")
        group(con)
    runner_ = CliRunner()
    listed = runner_.invoke(cli, ["--db", str(path), "alerts", "--incidents", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    records = json.loads(listed.stdout)
    assert [(r["incident_id"], r["alert_count"], r["severity"]) for r in records] == [
        ("a1", 2, "critical"),
        ("b1", 1, "low"),
    ]
    assert records[0]["ips"] == [ATTACKER] and records[0]["status"] == "new"
    high = runner_.invoke(
        cli, ["--db", str(path), "alerts", "--incidents", "--format", "json", "--severity", "high"]
    )
    assert [r["incident_id"] for r in json.loads(high.stdout)] == ["a1"]
    table = runner_.invoke(cli, ["--db", str(path), "alerts", "--incidents", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(table.stdout)))
    assert [row["incident_id"] for row in rows] == ["a1", "b1"]
    assert rows[1]["app"] == "'=SUM(A1)"  # never a formula in a spreadsheet
    plain = runner_.invoke(cli, ["--db", str(path), "alerts", "--incidents"])
    assert plain.exit_code == 0 and "a1" in plain.stdout
