"""Item 4 of issue 8: benign behaviour stays below medium; idle tokens judged by snapshot.

Each test fails on the original detectors (commit 45eeef3).
"""

from __future__ import annotations

import json
from datetime import datetime

from detect import registry, runner
from detect.detector import Context
from detect.detectors import anomaly_score
from detect.testing import ORG, config, insert_events, refresh, token_snapshot
from ingest import db

NOW = datetime(2026, 11, 29, 12)
USER = "0055g00000User1AAA"


def run(con, *detectors: str) -> list[tuple]:
    runner.run(con, config(), run_id="c", now=lambda: NOW, detector_ids=list(detectors),
               rescan_all=True)  # fmt: skip
    return con.execute(
        "SELECT detector_id, severity, summary, evidence FROM alerts ORDER BY first_seen_at, "
        "detector_id, severity"
    ).fetchall()


def _store_time_zone(con, org_id: str, zone: str) -> None:
    """The raw row the `organization` source stores for Organization.TimeZoneSidKey."""
    con.execute(
        "INSERT INTO raw_records VALUES (?, 'soql:Organization', ?, ?, ?, 'test', 'r', ?)",
        [org_id, f"{org_id}|{zone}", NOW, json.dumps({"Id": org_id, "TimeZoneSidKey": zone}),
         NOW],
    )  # fmt: skip


def test_an_unusual_day_nobody_else_flags_is_low():
    """A backfill night of an app without allowlist: unusual, but nothing seconds it."""
    con = db.memory()
    insert_events(con, [*anomaly_score._history(12, app_name="Reports Sync"),
                        *anomaly_score._outlier_day(app_name="Reports Sync")])  # fmt: skip
    [(detector, severity, summary, _)] = run(con, "anomaly_score")
    assert (detector, severity) == ("anomaly_score", "low")
    assert "no other detector alerted" in summary


def test_an_unusual_day_seconded_by_another_detector_is_medium():
    con = db.memory()
    insert_events(con, [*anomaly_score._history(12), *anomaly_score._outlier_day()])
    alerts = run(con, "off_allowlist_ip", "anomaly_score")
    [(_, severity, summary, evidence)] = [a for a in alerts if a[0] == "anomaly_score"]
    assert severity == "medium" and "off_allowlist_ip (high)" in summary
    assert json.loads(evidence)["corroborated_by"]


def test_night_hours_are_the_orgs_own():
    """A Tokyo org's integration works 09:00-18:00 Tokyo time (00:00-09:00 UTC): not night.
    Work at 16:00-20:00 UTC is 01:00-05:00 in Tokyo: night."""
    con = db.memory()
    _store_time_zone(con, ORG, "Asia/Tokyo")
    rows = [refresh(f"2026-11-{d:02d}T{h:02d}:10:00", "203.0.113.5", user_id=USER)
            for d in range(1, 13) for h in range(0, 9)]  # fmt: skip
    rows += [refresh(f"2026-11-13T{h:02d}:10:00", "203.0.113.5", user_id=USER)
             for h in range(16, 21)]  # fmt: skip
    insert_events(con, rows)
    detector = registry.by_id()["anomaly_score"]
    ctx = Context(con=con, config=config(), settings=registry.settings_for(detector, {"min_rows": 1}),
                  now=NOW)  # fmt: skip
    frame = anomaly_score.score_days(ctx).set_index("day")
    assert frame.loc["2026-11-13", "night_share"] == 1.0
    assert frame.loc["2026-11-05", "night_share"] == 0.0


def _snapshots(con, rows_by_read: dict[datetime, list[dict]]) -> None:
    for read_at, rows in rows_by_read.items():
        insert_events(con, rows, loaded_at=read_at)


def test_idleness_is_measured_at_the_snapshot_not_at_detection_time():
    """The token source delivered last on 20 October; the token had been used on the 15th.
    Forty days later the pipeline is silent, not the token expired."""
    con = db.memory()
    _snapshots(con, {datetime(2026, 10, 20): [token_snapshot("2026-10-15T10:00:00")]})
    assert run(con, "idle_token") == []


def test_each_state_of_a_token_is_one_alert_whatever_the_number_of_snapshots():
    con = db.memory()
    busy = "0055g00000BusyUAAV"
    reads = {datetime(2026, 11, d): [token_snapshot("2026-10-05T10:00:00"),
                                      token_snapshot(f"2026-11-{d:02d}T00:00:00", user_id=busy,
                                                     use_count=d)]
             for d in (1, 2, 3, 12, 13)}  # fmt: skip
    for read_at, rows in reads.items():  # nightly: a snapshot, then detection
        insert_events(con, rows, loaded_at=read_at)
        runner.run(con, config(), run_id=f"n{read_at:%d}", now=lambda at=read_at: at,
                   detector_ids=["idle_token"])  # fmt: skip
    alerts = con.execute("SELECT severity, evidence FROM alerts").fetchall()
    assert sorted((json.loads(e)["state"], s) for s, e in alerts) == [
        ("expired", "low"),
        ("heartbeat_due", "info"),
    ]


def test_a_token_replaced_by_a_new_authorization_raises_nothing_more():
    con = db.memory()
    _snapshots(con, {
        datetime(2026, 11, 1): [token_snapshot("2026-09-20T10:00:00")],
        datetime(2026, 11, 2): [token_snapshot("2026-11-02T08:00:00", created="2026-11-02T07:00:00")],
    })  # fmt: skip
    assert run(con, "idle_token") == []
