"""One alert for its page: runbook, incident, inferred app, its events, related alerts."""

from __future__ import annotations

from dashboard import queries
from detect.testing import insert_events, refresh
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
