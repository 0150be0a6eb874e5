"""Who may ask what: client credentials on My Domain only, the LoginEvent filter rule, and the
integration user's permissions (Salesforce filters quietly instead of refusing)."""

from __future__ import annotations

import json
from datetime import timedelta

import requests

from sandbox.fakesf.fleet import INGEST_CONSUMER_KEY, monitor_user

from .live import (
    ACME,
    INITECH,
    NOW,
    acme,
    count,
    ingest,
    initech,
    keys,
    the_org,
    unit,
    write_config,
)  # fmt: skip

__all__ = ["acme", "initech", "keys"]  # fixtures used by name


def client_credentials_config(fake, keys, tmp_path, monkeypatch, login_url: str | None):
    the_org(fake).apps[0].consumer_secret = "s3cr3t-client"
    monkeypatch.setenv("INITECH_SECRET", "s3cr3t-client")
    path = write_config(fake, keys, tmp_path)
    lines = []
    for line in path.read_text().splitlines():
        if line.startswith("login_url ="):
            line = f'login_url = "{login_url}"' if login_url else ""
        elif line.startswith("instance_url ="):
            line = f'instance_url = "{fake.my_domain_url}"'
        elif line.startswith("auth ="):
            line = (
                f'auth = {{ method = "client_credentials", consumer_key = "{INGEST_CONSUMER_KEY}", '
                'consumer_secret = { env = "INITECH_SECRET" } }'
            )
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_client_credentials_go_to_the_my_domain_host_by_default(
    store, initech, keys, tmp_path, monkeypatch
):
    path = client_credentials_config(initech, keys, tmp_path, monkeypatch, login_url=None)
    summary = ingest(store, path)
    assert not summary.failed, [(u.source, u.error) for u in summary.units]


def test_client_credentials_on_the_login_host_are_refused(
    store, initech, keys, tmp_path, monkeypatch
):
    path = client_credentials_config(initech, keys, tmp_path, monkeypatch, login_url=initech.url)
    summary = ingest(store, path)
    assert {u.status for u in summary.units} == {"failed"}
    assert "request not supported on this domain" in summary.units[0].error


def query_status(fake, soql: str) -> tuple[int, object]:
    response = requests.get(
        f"{fake.url}/services/data/v62.0/query",
        params={"q": soql},
        headers={"Authorization": f"Bearer {fake.session_for(ACME)}"},
        verify=str(fake.ca_path),
        timeout=30,
    )
    return response.status_code, response.json()


def test_the_fake_allows_a_comparison_on_the_last_loginevent_expression_only(acme):
    refused, body = query_status(
        acme,
        "SELECT EventIdentifier FROM LoginEvent WHERE EventDate > 2026-11-01T00:00:00Z "
        "AND EventDate <= 2026-11-02T00:00:00Z",
    )
    assert refused == 400 and body[0]["errorCode"] == "MALFORMED_QUERY"
    ok, _ = query_status(
        acme, "SELECT EventIdentifier FROM LoginEvent WHERE EventDate > 2026-11-01T00:00:00Z"
    )
    assert ok == 200


def test_loginevent_falls_back_to_the_upper_bound_applied_locally(store, acme, keys, tmp_path):
    events = the_org(acme).objects["LoginEvent"]
    future = {
        **events[0],
        "EventIdentifier": "future-event",
        "EventDate": (NOW + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
    }
    events.append(future)
    config = write_config(acme, keys, tmp_path)
    first = ingest(store, config, "window-1")
    assert unit(first, "login_event").status == "ok"
    stored = "SELECT count(*) FROM raw_records WHERE source_id = 'soql:LoginEvent'"
    assert count(store, stored) == len(events) - 1  # the row after the window end waits
    ingest(store, config, "window-2", now=NOW + timedelta(hours=1))
    assert count(store, stored) == len(events)  # and arrives with the next window, once


def test_missing_permissions_make_the_cut_short_sources_partial(store, initech, keys, tmp_path):
    org = the_org(initech)
    org.permissions["PermissionsCustomizeApplication"] = False
    org.permissions["PermissionsManageUsers"] = False
    monitor = org.users[monitor_user(org.alias)]
    own_logins = [{**r, "Id": f"0Ya00000000Own{n}", "UserId": monitor} for n, r in
                  enumerate(org.objects["LoginHistory"][:3])]  # fmt: skip
    org.objects["LoginHistory"].extend(own_logins)
    summary = ingest(store, write_config(initech, keys, tmp_path))
    assert not summary.failed  # facts to report, not failures
    history, tokens = unit(summary, "login_history"), unit(summary, "oauth_token")
    assert history.status == "partial" and "Manage Users" in history.error
    assert tokens.status == "partial" and "Customize Application" in tokens.error
    assert (
        count(store, "SELECT count(*) FROM raw_records WHERE source_id = 'soql:LoginHistory'") == 3
    )
    assert count(store, "SELECT count(*) FROM raw_records WHERE source_id = 'soql:OauthToken'") == 0
    rows = dict(
        store.execute(
            "SELECT unit_id, details FROM runs WHERE org_id = ? AND stage = 'ingest'", [INITECH]
        ).fetchall()
    )
    notes = json.loads(rows["initech-prod/login_history"])["notes"]
    assert notes[0]["missing_permissions"] == ["Manage Users"]


def test_full_permissions_say_nothing(store, initech, keys, tmp_path):
    summary = ingest(store, write_config(initech, keys, tmp_path))
    assert unit(summary, "login_history").status == "ok"
    assert not unit(summary, "login_history").notes


def test_permissions_that_cannot_be_checked_are_said_not_guessed(store, initech, keys, tmp_path):
    the_org(initech).licensed_objects.discard("UserPermissionAccess")
    summary = ingest(store, write_config(initech, keys, tmp_path))
    assert not summary.failed
    history = unit(summary, "login_history")
    assert history.status == "ok"
    assert any(n.message.startswith("permissions not checked") for n in history.notes)
