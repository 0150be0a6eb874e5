"""One way to print a time for people (`dashboard.timefmt`): to the second, zone named."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone

import pandas as pd

from dashboard import timefmt

MOMENT = datetime(2026, 11, 29, 14, 3, 7, 987654)  # naive: the store's UTC


def test_to_the_second_in_the_named_zone_never_microseconds():
    assert timefmt.shown(MOMENT) == "2026-11-29 14:03:07 UTC"
    assert timefmt.shown(MOMENT, "Europe/Paris") == "2026-11-29 15:03:07 CET"
    assert timefmt.shown(MOMENT.replace(month=7), "Europe/Paris") == "2026-07-29 16:03:07 CEST"
    assert timefmt.shown(MOMENT, "America/Los_Angeles") == "2026-11-29 06:03:07 PST"
    aware = MOMENT.replace(tzinfo=timezone(timedelta(hours=2)))
    assert timefmt.shown(aware) == "2026-11-29 12:03:07 UTC"
    assert timefmt.shown("2026-11-29T14:03:07.123Z", UTC) == "2026-11-29 14:03:07 UTC"


def test_nothing_and_unknown_zones():
    assert timefmt.shown(None) == timefmt.shown(pd.NaT) == timefmt.shown(float("nan")) == "-"
    assert timefmt.shown(MOMENT, "Mars/Olympus_Mons") == "2026-11-29 14:03:07 UTC"
    assert timefmt.shown(MOMENT, "") == "2026-11-29 14:03:07 UTC"


def test_a_column_at_once_matches_one_at_a_time():
    column = pd.Series([MOMENT, None, MOMENT + timedelta(days=200)], dtype="datetime64[us]")
    assert timefmt.shown_series(column, "Asia/Kolkata").tolist() == [
        timefmt.shown(MOMENT, "Asia/Kolkata"),
        "-",
        timefmt.shown(MOMENT + timedelta(days=200), "Asia/Kolkata"),
    ]


def test_the_terminal_zone_comes_from_tz(monkeypatch):
    monkeypatch.setenv("TZ", "Australia/Sydney")
    assert timefmt.shown(MOMENT, timefmt.local_zone()) == "2026-11-30 01:03:07 AEDT"


def test_the_cli_table_prints_last_seen_in_the_terminals_zone(monkeypatch):
    from rich.console import Console

    from dashboard import console

    monkeypatch.setenv("TZ", "Europe/Paris")
    record = {"severity": "high", "detector": "off_allowlist_ip", "status": "new",
              "last_seen": "2026-11-29T14:03:07.123Z", "event_count": 3, "alert_id": "a1",
              "summary": "s"}  # fmt: skip
    screen = Console(width=200, record=True, file=io.StringIO())
    screen.print(console.alerts_table([record]))
    assert "2026-11-29 15:03:07 CET" in screen.export_text()


def test_terminal_cells_turn_iso_times_and_datetimes_into_people_times(monkeypatch):
    from dashboard import console

    zone = timefmt.zone("Asia/Tokyo")
    assert console.cell("2026-11-29T14:03:07.123Z", zone) == "2026-11-29 23:03:07 JST"
    assert console.cell(MOMENT, zone) == "2026-11-29 23:03:07 JST"
    assert console.cell("2026-11-29 is not a time", zone) == "2026-11-29 is not a time"
