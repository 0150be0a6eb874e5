"""The `user` source against the fake Salesforce over HTTPS: usernames for the ids events name.

LoginHistory and OauthToken name users by id only; after `ingest` every id the org's events
mention resolves to its Username, Name, active state and profile through `user_directory`.
"""

from __future__ import annotations

from urllib.parse import quote_plus

import pytest

from ingest import users
from ingest.sfid import to18

from .live import INITECH, count, ingest, initech, keys, the_org, unit, write_config

__all__ = ["initech", "keys"]  # fixtures used by name


@pytest.fixture
def seen(initech, monkeypatch) -> list[str]:
    """Every SOQL statement the fake answers (its own `query`, wrapped to record the text)."""
    statements: list[str] = []
    answer = initech.query

    def query(org, text, version, user_id=None):  # type: ignore[no-untyped-def]
        statements.append(text)
        return answer(org, text, version, user_id)

    monkeypatch.setattr(initech, "query", query)
    return statements


def _user_queries(seen: list[str]) -> list[str]:
    return [text for text in seen if " FROM User WHERE " in text]


def test_ingest_reads_the_users_the_events_mention(store, initech, keys, tmp_path, seen):
    org = the_org(initech)
    by_id = {user_id: name for name, user_id in org.users.items() if user_id}
    someone = org.objects["LoginHistory"][0]["UserId"]  # a user the logs certainly mention
    org.user_details[someone] = {"Name": "Ada Lovelace", "IsActive": False, "Profile": "Auditor"}
    summary = ingest(store, write_config(initech, keys, tmp_path))
    assert unit(summary, "user").status == "ok", unit(summary, "user").error
    mentioned = {
        row[0]
        for row in store.execute(
            "SELECT DISTINCT user_id FROM events WHERE org_id = ? AND user_id IS NOT NULL",
            [INITECH],
        ).fetchall()
    }
    assert mentioned and mentioned <= set(by_id)
    directory = {
        row[0]: row[1:]
        for row in store.execute(
            "SELECT user_id, username, name, is_active, profile_name, from_user_object "
            "FROM user_directory WHERE org_id = ?",
            [INITECH],
        ).fetchall()
    }
    assert set(directory) == mentioned  # only the users the logs mention, every one of them
    for user_id in mentioned:
        assert directory[user_id][0] == by_id[user_id]
        assert directory[user_id][4] is True  # from the User object, not only the logs
    assert directory[someone][1:4] == ("Ada Lovelace", False, "Auditor")
    assert count(store, "SELECT count(*) FROM raw_records WHERE source_id = 'soql:User'") == len(
        mentioned
    )
    assert _user_queries(seen)
    for text in _user_queries(seen):
        assert len(quote_plus(text)) <= users.URI_BUDGET


def test_a_second_run_reads_only_users_active_since(store, initech, keys, tmp_path, seen):
    config = write_config(initech, keys, tmp_path)
    ingest(store, config)
    first = len(_user_queries(seen))
    assert first >= 1
    ingest(store, config, run_id="run-2")  # nothing new arrived: no user is asked for again
    assert len(_user_queries(seen)) == first
    assert count(store, "SELECT count(*) FROM users WHERE source = 'User'") > 0


def test_a_user_renamed_in_salesforce_shows_the_new_name(store, initech, keys, tmp_path):
    config = write_config(initech, keys, tmp_path)
    ingest(store, config)
    org = the_org(initech)
    user_id = store.execute(
        "SELECT user_id FROM user_directory WHERE org_id = ? ORDER BY user_id LIMIT 1", [INITECH]
    ).fetchone()[0]
    old = next(name for name, uid in org.users.items() if uid == user_id)
    del org.users[old]
    org.users["renamed@initech.example"] = user_id
    org.user_details[user_id] = {"LastModifiedDate": "2026-11-29T11:00:00.000+0000"}
    store.execute("UPDATE events SET ingested_at = ingested_at + INTERVAL 1 DAY")  # active again
    ingest(store, config, run_id="run-2")
    assert (
        store.execute(
            "SELECT username FROM user_directory WHERE org_id = ? AND user_id = ?",
            [INITECH, user_id],
        ).fetchone()[0]
        == "renamed@initech.example"
    )


def test_without_manage_users_the_unseen_ids_are_said_not_failed(store, initech, keys, tmp_path):
    the_org(initech).permissions["PermissionsManageUsers"] = False
    summary = ingest(store, write_config(initech, keys, tmp_path))
    outcome = unit(summary, "user")
    assert outcome.status in ("ok", "partial")
    notes = " ".join(n.message for n in outcome.notes)
    assert "not returned by User" in notes
    assert "View All Users" in notes


def test_user_queries_stay_within_salesforce_uri_limit():
    ids = [to18(f"005{n:012d}") for n in range(2000)]
    statements = list(users.user_queries(ids))
    assert len(statements) > 1
    for statement in statements:
        assert len(quote_plus(statement)) <= users.URI_BUDGET
        assert len(statement) < 100_000  # SOQL statement limit
    listed = [i.strip("' ") for s in statements for i in s.split("IN (", 1)[1][:-1].split(",")]
    assert listed == ids  # every id once, in order


def test_a_malformed_id_never_reaches_a_query():
    try:
        list(users.user_queries(["005' OR Name != '"]))
    except ValueError as exc:
        assert "not an 18-character" in str(exc)
    else:
        raise AssertionError("a malformed id was put into SOQL")
