"""The Apps page's egress roll-up: the same answer as a scan of events, kept incrementally."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from dashboard import queries
from dashboard.queries import rollups
from detect import testing
from ingest import db

T0 = datetime(2026, 11, 1)
WINDOW = queries.Filters(start=datetime(2026, 10, 1), end=datetime(2026, 11, 30))


def _load(con, rows, loaded_at: datetime) -> None:
    testing.insert_events(con, rows, loaded_at=loaded_at)


def _live(con) -> pd.DataFrame:
    """The page's answer from a scan of events (roll-up state hidden, then put back)."""
    saved = con.execute("SELECT * FROM rollup_state").fetchall()
    con.execute("DELETE FROM rollup_state")  # egress_ready() is false: the page scans events
    frame = queries.egress_ips(con, WINDOW)
    con.executemany("INSERT INTO rollup_state VALUES (?, ?, ?, ?)", saved)
    return frame


def test_rollup_answers_as_the_scan_does_and_refreshes_only_changed_days():
    con = db.memory()
    first = [
        testing.refresh(f"2026-11-0{d}T09:{m:02d}:00Z", ip, is_success=m != 7)
        for d in (1, 2, 3)
        for m, ip in enumerate(["203.0.113.5", "203.0.113.5", "192.0.2.9", "2001:db8::1"] * 2)
    ]
    first.append(testing.refresh("2026-11-02T10:00:00Z", "198.51.100.1", app_name=None,
                                 inferred_app="Acme Sync"))  # fmt: skip
    first.append(testing.web_login("2026-11-02T11:00:00Z", "192.0.2.77"))  # not a refresh
    _load(con, first, T0 + timedelta(days=3))
    assert rollups.refresh_egress(con, now=T0) == 3
    rolled = queries.egress_ips(con, WINDOW)
    pd.testing.assert_frame_equal(rolled, _live(con))
    assert "192.0.2.77" not in set(rolled["ip"])
    by_ip = rolled.set_index("ip")
    assert by_ip.loc["203.0.113.5", "uses"] == 12 and by_ip.loc["192.0.2.9", "failures"] == 0
    assert by_ip.loc["198.51.100.1", "app"] == "Acme Sync"  # an inferred app counts as its app

    # Late rows for day 2 and a new day 4: only those two days are rewritten.
    later = [
        testing.refresh("2026-11-02T23:00:00Z", "192.0.2.9", is_success=False),
        testing.refresh("2026-11-04T01:00:00Z", "203.0.113.5"),
    ]
    _load(con, later, T0 + timedelta(days=5))
    assert not rollups.egress_ready(con)  # behind the store: the page would scan live
    assert rollups.refresh_egress(con, now=T0) == 2
    refreshed = queries.egress_ips(con, WINDOW)
    pd.testing.assert_frame_equal(refreshed, _live(con))
    assert refreshed.set_index("ip").loc["192.0.2.9", "failures"] == 1
    assert rollups.refresh_egress(con, now=T0) == 0  # nothing changed since


def test_a_stale_or_missing_rollup_is_never_read():
    con = db.memory()
    _load(con, [testing.refresh("2026-11-01T09:00:00Z", "203.0.113.5")], T0)
    rollups.refresh_egress(con, now=T0)
    _load(con, [testing.refresh("2026-11-01T10:00:00Z", "192.0.2.50")], T0 + timedelta(days=1))
    # Not refreshed yet: the answer still includes the new address.
    assert "192.0.2.50" in set(queries.egress_ips(con, WINDOW)["ip"])
    con.execute("DROP TABLE egress_daily")
    assert not rollups.egress_ready(con)
    assert set(queries.egress_ips(con, WINDOW)["ip"]) == {"203.0.113.5", "192.0.2.50"}


def test_rows_written_with_an_old_stamp_make_the_rollup_stale_and_rebuild_it():
    con = db.memory()
    _load(con, [testing.refresh("2026-11-01T09:00:00Z", "203.0.113.5")], T0)
    rollups.refresh_egress(con, now=T0)
    # A row whose updated_at is not newer than what the roll-up has read (a backfill, a test).
    _load(con, [testing.refresh("2026-11-03T09:00:00Z", "192.0.2.60")], T0 - timedelta(days=9))
    assert not rollups.egress_ready(con)
    assert "192.0.2.60" in set(queries.egress_ips(con, WINDOW)["ip"])  # read live meanwhile
    assert rollups.refresh_egress(con, now=T0) == 2  # every day rebuilt, not just "changed" ones
    assert rollups.egress_ready(con)
    assert "192.0.2.60" in set(queries.egress_ips(con, WINDOW)["ip"])
