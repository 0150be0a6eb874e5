"""One alert for its page: runbook, incident, inferred app, its events, related alerts."""

from __future__ import annotations

from dashboard import queries
from detect.testing import OTHER_ORG, insert_events, refresh
from tests.dashboard.incident_helpers import group, put_alert

ATTACKER = "208.68.36.90"


def test_alert_carries_runbook_incident_and_inference(store):
    events = [refresh("2026-11-01T09:10:00", ATTACKER), refresh("2026-11-01T09:20:00", ATTACKER)]
    insert_events(store, events)
    put_alert(store, "a1", ips=[ATTACKER], event_ids=[e["event_id"] for e in events],
              evidence={"app_inferred": True, "inferred_from": "session key", "ip": ATTACKER})  # fmt: skip
    group(store)
    record = queries.alert(store, "a1")
    assert record["incident_id"] == "a1" and record["status"] == "new"
    assert record["runbook"].startswith("1.") and record["attack"]
    assert record["app_inference"] == {"app_inferred": True, "inferred_from": "session key"}
    assert record["evidence"]["ip"] == ATTACKER
    assert queries.alert(store, "nope") is None
    frame = queries.alert_events(store, "a1")
    assert list(frame["event_id"]) == [e["event_id"] for e in events]


def test_related_alerts_share_ip_user_or_app_across_orgs(store):
    put_alert(store, "a1", ips=[ATTACKER], user_id="005A", app="Acme Sync")
    put_alert(store, "same-ip", org_id=OTHER_ORG, ips=[ATTACKER], app="Other", hours=50)
    put_alert(store, "same-user", ips=["192.0.2.1"], user_id="005A", app="Other", hours=60)
    put_alert(store, "same-app", org_id=OTHER_ORG, ips=["192.0.2.2"], app="ACME SYNC", hours=70)
    put_alert(store, "unrelated", ips=["192.0.2.3"], app="Other", hours=80)
    related = queries.related_alerts(store, "a1").set_index("alert_id")["relation"].to_dict()
    assert related == {"same-ip": "same IP", "same-user": "same user", "same-app": "same app"}
    assert list(queries.related_alerts(store, "a1", limit=1)["alert_id"]) == ["same-ip"]
