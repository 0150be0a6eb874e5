"""Item 6 of issue 8: returning attackers raise a new linked alert; changed verdicts supersede.

Both fail on the original runner: it folded new activity into a resolved alert (the analyst
never saw it) and kept every old alert at its old severity for ever.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from click.testing import CliRunner

from dashboard import queries
from dashboard.cli import cli
from detect import runner
from detect.testing import config, insert_events, refresh
from ingest import db

T0 = datetime(2026, 11, 2)
ONLY = ["off_allowlist_ip"]
VPS = "208.68.36.90"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def _alerts(con):
    return con.execute(
        "SELECT alert_id, severity, event_count, reopens_alert_id, superseded_at FROM alerts "
        "ORDER BY created_at, alert_id"
    ).fetchall()


def test_an_attacker_returning_to_a_resolved_alert_raises_a_new_linked_alert(store):
    clock = Clock()
    insert_events(store, [refresh("2026-11-01T09:00:00", VPS)], loaded_at=T0)
    runner.run(store, config(), run_id="d1", now=clock, detector_ids=ONLY)
    [(first_id, *_)] = _alerts(store)
    queries.set_triage(store, first_id, "resolved", note="tokens revoked", analyst="ana",
                       now=clock())  # fmt: skip

    # Re-detecting what the analyst already judged changes nothing.
    runner.run(store, config(), run_id="d2", now=clock, rescan_all=True, detector_ids=ONLY)
    assert [a[0] for a in _alerts(store)] == [first_id]

    # The same IP comes back later the same day: same finding (org, app, IP, day), new events.
    insert_events(store, [refresh("2026-11-01T22:00:00", VPS)], loaded_at=clock())
    runner.run(store, config(), run_id="d3", now=clock, detector_ids=ONLY)
    old, new = _alerts(store)
    assert old[:4] == (first_id, "high", 1, None)  # the analyst's alert untouched
    assert new[3] == first_id and new[2] == 1 and new[1] == "high"
    assert store.execute("SELECT status, note FROM triage").fetchall() == [
        ("resolved", "tokens revoked")
    ]
    [record] = [r for r in queries.alert_records(queries.alerts(store)) if r["alert_id"] == new[0]]
    assert record["reopens_alert_id"] == first_id and record["status"] == "new"
    assert first_id in record["summary"] and record["first_seen"].startswith("2026-11-01T22:00")

    # A third visit after the second alert was marked false positive links to the second.
    queries.set_triage(store, new[0], "false_positive", note=None, analyst="ben", now=clock())
    insert_events(store, [refresh("2026-11-01T23:00:00", VPS)], loaded_at=clock())
    runner.run(store, config(), run_id="d4", now=clock, detector_ids=ONLY)
    third = _alerts(store)[2]
    assert third[3] == new[0] and third[2] == 1


def test_a_full_rescan_supersedes_untriaged_alerts_that_no_longer_hold(tmp_path):
    path = tmp_path / "t.duckdb"
    store = db.open_store(path)
    clock = Clock()
    insert_events(store, [refresh("2026-11-01T09:00:00", "198.51.100.7"),
                          refresh("2026-11-01T10:00:00", VPS)], loaded_at=T0)  # fmt: skip
    runner.run(store, config(), run_id="d1", now=clock, detector_ids=ONLY)
    assert len(_alerts(store)) == 2
    acknowledged = store.execute(
        "SELECT alert_id FROM alerts WHERE list_contains(ips, ?)", [VPS]
    ).fetchone()[0]
    queries.set_triage(store, acknowledged, "acknowledged", note=None, analyst="ana", now=clock())

    # The partner's second region is added to the allowlist: neither address is theft any more
    # for 198.51.100.7; the analyst-acknowledged alert is left as the analyst left it.
    widened = config({"Acme Sync": ("203.0.113.0/28", "198.51.100.0/24", VPS + "/32")})
    summary = runner.run(store, widened, run_id="d2", now=clock, rescan_all=True,
                         detector_ids=ONLY)  # fmt: skip
    assert summary.detectors[0].superseded == 1
    rows = {a[0]: a for a in _alerts(store)}
    assert rows[acknowledged][4] is None
    [gone] = [a for a in rows.values() if a[0] != acknowledged]
    assert gone[4] is not None

    # Hidden by default, listed with --superseded.
    store.close()
    cli_runner = CliRunner()
    shown = json.loads(
        cli_runner.invoke(cli, ["alerts", "--db", str(path), "--format", "json"]).output
    )
    assert [a["alert_id"] for a in shown] == [acknowledged]
    every = cli_runner.invoke(
        cli, ["alerts", "--db", str(path), "--format", "json", "--superseded"]
    )
    assert {a["alert_id"] for a in json.loads(every.output)} == set(rows)


def test_a_full_rescan_regrades_an_untriaged_alert_down_and_an_ordinary_scan_does_not(store):
    clock = Clock()
    insert_events(store, [refresh("2026-11-01T09:00:00", VPS)], loaded_at=T0)
    runner.run(store, config(), run_id="d1", now=clock, detector_ids=ONLY)
    store.execute("UPDATE events SET is_success = false, status = 'Failed: IP Address Not Allowed'")
    runner.run(store, config(), run_id="d2", now=clock, since=datetime(2026, 10, 1),
               detector_ids=ONLY)  # fmt: skip
    assert _alerts(store)[0][1] == "high"  # an incremental scan never lowers a severity
    runner.run(store, config(), run_id="d3", now=clock, rescan_all=True, detector_ids=ONLY)
    assert _alerts(store)[0][1] == "medium" and _alerts(store)[0][4] is None
