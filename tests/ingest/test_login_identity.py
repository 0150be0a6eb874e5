"""One real login seen by LoginHistory, the Login ELF and LoginEvent is one enriched event."""

from __future__ import annotations

import itertools

import pytest

from .helpers import elf_login, envelope, login_history, run_import, write_elf, write_json

ORG15 = "00D5g000004XyZa"


def login_event(identifier: str, at: str, ip: str, history_id: str) -> dict:
    return {
        "attributes": {"type": "LoginEvent"},
        "EventIdentifier": identifier,
        "EventDate": f"{at}+0000",
        "UserId": "0055g00000AbCdEAAV",
        "Username": "integration@acme.example",
        "SourceIp": ip,
        "LoginType": "Remote Access 2.0",
        "LoginSubType": "OAuth Refresh Token",
        "Status": "Success",
        "Application": "Acme Sync",
        "LoginLatitude": 39.0438,
        "LoginLongitude": -77.4874,
        "City": "Ashburn",
        "CountryIso": "US",
        "LoginHistoryId": history_id,
        "LoginKey": "lk-1",
    }


@pytest.fixture
def three_sources(tmp_path):
    history = write_json(
        tmp_path / "lh.json",
        envelope([login_history("0Ya000000000001AAA", "2026-11-01T09:30:00", "203.0.113.5")]),
    )
    elf = write_elf(
        tmp_path / "Login.csv", [elf_login("20261101093000.500", "203.0.113.5", key="lk-1")]
    )
    event = write_json(
        tmp_path / "le.json",
        envelope(
            [login_event("evt-1", "2026-11-01T09:30:00.500", "203.0.113.5", "0Ya000000000001AAA")]
        ),
    )
    return [history, elf, event]


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_three_sources_one_event_in_any_order(store, three_sources, order):
    for index in order:
        run_import(store, three_sources[index], org=ORG15, run_id=f"run-{index}")
    rows = store.execute(
        """SELECT occurred_at, app_name, user_agent, latitude, city, login_key,
                  login_history_id, grant_type, list_sort(sources) FROM events"""
    ).fetchall()
    assert len(rows) == 1
    occurred, app, agent, latitude, city, login_key, history_id, grant, sources = rows[0]
    assert occurred.microsecond == 500_000  # the ELF's milliseconds, not LoginHistory's .000
    assert (app, agent, latitude, city) == ("Acme Sync", "Java/17.0.9", 39.0438, "Ashburn")
    assert (login_key, history_id, grant) == ("lk-1", "0Ya000000000001AAA", "refresh_token")
    assert sources == ["elf:Login", "soql:LoginEvent", "soql:LoginHistory"]


def test_two_logins_in_one_second_stay_two(store, tmp_path):
    history = write_json(
        tmp_path / "lh.json",
        envelope(
            [
                login_history("0Ya000000000001AAA", "2026-11-01T09:30:00", "203.0.113.5"),
                login_history("0Ya000000000002AAA", "2026-11-01T09:30:00", "203.0.113.5"),
            ]
        ),
    )
    elf = write_elf(
        tmp_path / "Login.csv",
        [
            elf_login("20261101093000.100", "203.0.113.5", key="a"),
            elf_login("20261101093000.900", "203.0.113.5", key="b"),
        ],
    )
    run_import(store, history, elf, org=ORG15)
    sources = store.execute("SELECT list_sort(sources) FROM events").fetchall()
    assert sources == [(["elf:Login", "soql:LoginHistory"],)] * 2


def test_a_later_login_in_the_same_second_is_a_new_event(store, tmp_path):
    first = write_json(
        tmp_path / "lh-1.json",
        envelope([login_history("0Ya000000000001AAA", "2026-11-01T09:30:00", "203.0.113.5")]),
    )
    second = write_json(
        tmp_path / "lh-2.json",
        envelope([login_history("0Ya000000000002AAA", "2026-11-01T09:30:00", "203.0.113.5")]),
    )
    run_import(store, first, org=ORG15, run_id="r1")
    run_import(store, second, org=ORG15, run_id="r2")
    run_import(store, first, second, org=ORG15, run_id="r3")
    assert store.execute("SELECT count(*) FROM events").fetchone()[0] == 2


def test_failed_and_successful_logins_do_not_merge(store, tmp_path):
    history = write_json(
        tmp_path / "lh.json",
        envelope(
            [
                login_history(
                    "0Ya000000000001AAA",
                    "2026-11-01T09:30:00",
                    "203.0.113.5",
                    status="Failed: IP Address Not Allowed",
                )
            ]
        ),
    )
    elf = write_elf(tmp_path / "Login.csv", [elf_login("20261101093000.100", "203.0.113.5")])
    run_import(store, history, elf, org=ORG15)
    assert store.execute("SELECT count(*) FROM events").fetchone()[0] == 2
