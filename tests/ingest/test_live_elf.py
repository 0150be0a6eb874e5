"""EventLogFile as Salesforce documents it: daily files replaced when late rows arrive (new
CreatedDate and LogFileLength), hourly files beside the daily ones, and one event per login."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from ingest import db, ingestion
from sandbox.fakesf.fleet import redeliver
from sandbox.fakesf.server import FakeSalesforce

from .live import ACME, FLEET, NOW, acme, count, ingest, keys, serve, the_org, unit, write_config

__all__ = ["acme", "keys"]  # fixtures used by name
LAST_DAY = "2026-11-28"  # the demo's last finished day: daily and hourly files
EARLIER_DAY = "2026-11-27"  # daily file only


def listing(fake, day: str, interval: str) -> list[dict]:
    return [
        r for r in the_org(fake).objects["EventLogFile"]
        if r["LogDate"].startswith(day) and r["Interval"] == interval
    ]  # fmt: skip


def downloads(fake, record_id: str) -> int:
    return sum(1 for line in fake.request_log if f"/EventLogFile/{record_id}/LogFile" in line)


def elf_lines(fake) -> set[bytes]:
    return {line for body in the_org(fake).log_files.values() for line in body.splitlines()[1:]}


@pytest.fixture(scope="module")
def first_night(
    keys, tmp_path_factory
) -> Iterator[tuple[FakeSalesforce, ingestion.IngestSummary, Path]]:
    """One night's ingest of acme-prod, read by the tests that change nothing."""
    folder = tmp_path_factory.mktemp("acme-first-night")
    with serve(keys, ACME) as server:
        with db.connect(folder / "store.duckdb") as con:
            summary = ingest(con, write_config(server, keys, folder))
        yield server, summary, folder / "store.duckdb"


@pytest.fixture
def night_store(first_night) -> Iterator[duckdb.DuckDBPyConnection]:
    with db.connect(first_night[2], read_only=True) as con:
        yield con


@pytest.mark.xdist_group("acme-first-night")
def test_hourly_files_replace_the_daily_file_of_their_day(first_night, night_store):
    (acme, summary, _), store = first_night, night_store
    assert unit(summary, "event_log_file").status == "ok"
    daily = listing(acme, LAST_DAY, "Daily")[0]
    assert downloads(acme, daily["Id"]) == 0  # listed and stored, never downloaded
    assert all(downloads(acme, r["Id"]) == 1 for r in listing(acme, LAST_DAY, "Hourly"))
    assert downloads(acme, listing(acme, EARLIER_DAY, "Daily")[0]["Id"]) == 1
    assert count(store, "SELECT count(*) FROM raw_elf") == len(elf_lines(acme))
    listings = count(
        store, "SELECT count(*) FROM raw_records WHERE source_id = 'soql:EventLogFile'"
    )
    assert listings == len(the_org(acme).objects["EventLogFile"])


@pytest.mark.xdist_group("acme-first-night")
def test_a_login_is_one_event_whichever_file_carried_it(night_store):
    store = night_store
    export = next(o for o in FLEET.orgs if o.org.org_id == ACME)
    for day in (EARLIER_DAY, LAST_DAY):  # the daily file, then the hourly files
        rows = export.elf_login[day]
        seen = count(
            store,
            """SELECT count(*) FROM events WHERE org_id = ? AND list_contains(sources, 'elf:Login')
               AND strftime(occurred_at, '%Y-%m-%d') = ?""",
            [ACME, day],
        )
        assert seen == len(rows), day
    duplicates = count(
        store,
        "SELECT count(*) - count(DISTINCT identity_key) FROM events WHERE event_type = 'login'",
    )
    assert duplicates == 0


def test_a_redelivered_daily_file_is_read_again_and_merged(store, acme, keys, tmp_path):
    config = write_config(acme, keys, tmp_path)
    ingest(store, config, "night-1")
    raw_before = count(store, "SELECT count(*) FROM raw_elf")
    events_before = count(store, "SELECT count(*) FROM events")
    export = next(o for o in FLEET.orgs if o.org.org_id == ACME)
    late = []
    for n, row in enumerate(export.elf_login[EARLIER_DAY][:2]):
        late.append(
            {**row, "TIMESTAMP": f"{EARLIER_DAY.replace('-', '')}2359{n:02d}.000",
             "TIMESTAMP_DERIVED": f"{EARLIER_DAY}T23:59:{n:02d}.000Z", "REQUEST_ID": f"late-{n}",
             "LOGIN_KEY": f"late-key-{n}", "CLIENT_IP": f"198.51.100.{n + 1}",
             "SOURCE_IP": f"198.51.100.{n + 1}"}
        )  # fmt: skip
    daily = listing(acme, EARLIER_DAY, "Daily")[0]
    redeliver(the_org(acme), daily["Id"], late, NOW - timedelta(minutes=30))
    summary = ingest(store, config, "night-2", now=NOW + timedelta(hours=1))
    assert unit(summary, "event_log_file").status == "ok"
    assert downloads(acme, daily["Id"]) == 2  # same Id, new CreatedDate / LogFileLength
    assert count(store, "SELECT count(*) FROM raw_elf") == raw_before + 2
    assert count(store, "SELECT count(*) FROM events") == events_before + 2
    third = ingest(store, config, "night-3", now=NOW + timedelta(hours=2))
    assert not third.failed and downloads(acme, daily["Id"]) == 2  # that delivery is known now
