"""OAuth usage resources as Salesforce documents them, against the fake that behaves the same.

Documented (Connect REST API guide, "OAuth Usage" and "OAuth Users by App ID"): `nextPageUrl`
comes with every page, the last included; a page past the end is an empty list. The resources
cover External Client Apps only.
"""

from __future__ import annotations

import json

import requests

from ingest import oauth_usage
from sandbox.fakesf.model import FakeApp

from .live import INITECH, count, ingest, initech, keys, the_org, unit, usage_requests, write_config

__all__ = ["initech", "keys"]  # fixtures used by name


def get(fake, path: str) -> dict:
    token = fake.session_for(INITECH)
    response = requests.get(
        f"{fake.url}/services/data/v62.0/{path}",
        headers={"Authorization": f"Bearer {token}"},
        verify=str(fake.ca_path),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_the_fake_pages_as_documented(initech):
    first = get(initech, "apps/oauth/usage?page=0&pageSize=100")
    assert len(first["apps"]) == 1 and first["nextPageUrl"]  # the last page still links on
    past = get(initech, "apps/oauth/usage?page=7&pageSize=100")
    assert past["apps"] == [] and past["nextPageUrl"]
    app_id = first["apps"][0]["identifier"]
    users = get(initech, f"apps/oauth/usage/{app_id}/users?page=3")
    assert users["users"] == [] and users["nextPageUrl"]


def test_ingest_stops_on_the_empty_page(store, initech, keys, tmp_path):
    summary = ingest(store, write_config(initech, keys, tmp_path))
    assert unit(summary, "oauth_token").status == "ok"
    assert (
        count(store, "SELECT count(*) FROM raw_records WHERE source_id = 'rest:OAuthUsageToken'")
        == 1
    )
    # apps: page 0 and the empty page 1; users: the same; tokens: one unpaged response
    assert len(usage_requests(initech)) == 5


def test_every_page_of_apps_and_users_is_read(store, initech, keys, tmp_path, monkeypatch):
    monkeypatch.setattr(oauth_usage, "PAGE_SIZE", 2)
    org = the_org(initech)
    template = next(iter(next(iter(org.oauth_usage.values())).values()))[0]
    for n in range(5):
        app = FakeApp(f"Extra App {n}", f"3MVG9extra{n}", f"0H4000000000Ex{n}")
        org.apps.append(app)
        org.oauth_usage[app.app_id] = {
            f"005000000000Us{u}": [
                {**template, "appIdentifier": app.app_id, "userIdentifier": f"005000000000Us{u}",
                 "appDeveloperName": f"Extra_App_{n}"}
            ]
            for u in range(3)
        }  # fmt: skip
    summary = ingest(store, write_config(initech, keys, tmp_path))
    assert unit(summary, "oauth_token").status == "ok"
    stored = count(
        store, "SELECT count(*) FROM raw_records WHERE source_id = 'rest:OAuthUsageToken'"
    )
    assert stored == 1 + 5 * 3
    # 6 apps in pages of 2: 3 pages + the empty one; users: 2 + 1 per extra app, 1 + 1 for the
    # demo app; tokens: one request per app x user
    assert len(usage_requests(initech)) == 4 + (5 * 3 + 2) + (15 + 1)


def test_the_token_spelling_of_the_apps_list_is_accepted(store, initech, keys, tmp_path):
    the_org(initech).faults.usage_shape = "token_spelling"
    summary = ingest(store, write_config(initech, keys, tmp_path))
    assert unit(summary, "oauth_token").status == "ok"
    assert (
        count(store, "SELECT count(*) FROM raw_records WHERE source_id = 'rest:OAuthUsageToken'")
        == 1
    )


def test_a_listing_that_never_ends_fails_the_unit_at_the_cap(
    store, initech, keys, tmp_path, monkeypatch
):
    monkeypatch.setattr(oauth_usage, "MAX_PAGES", 25)
    the_org(initech).faults.usage_endless = True
    summary = ingest(store, write_config(initech, keys, tmp_path))
    tokens = unit(summary, "oauth_token")
    assert tokens.status == "failed" and "after 25 pages" in tokens.error
    assert len(usage_requests(initech)) == 25
    assert count(store, "SELECT count(*) FROM raw_records WHERE source_id = 'soql:OauthToken'") == 1
    assert unit(summary, "login_history").status == "ok"


def test_a_listing_that_ignores_the_page_stops_at_the_repeat(store, initech, keys, tmp_path):
    the_org(initech).faults.usage_ignores_page = True
    summary = ingest(store, write_config(initech, keys, tmp_path))
    assert unit(summary, "oauth_token").status == "ok"
    apps_requests = [r for r in usage_requests(initech) if r.endswith("/apps/oauth/usage")]
    assert len(apps_requests) == 2  # page 0, then page "1" repeating it: stop
    assert (
        count(store, "SELECT count(*) FROM raw_records WHERE source_id = 'rest:OAuthUsageToken'")
        == 1
    )


def test_an_unrecognised_shape_keeps_the_oauthtoken_rows(store, initech, keys, tmp_path):
    the_org(initech).faults.usage_shape = "unrecognised"
    summary = ingest(store, write_config(initech, keys, tmp_path))
    tokens = unit(summary, "oauth_token")
    assert tokens.status == "partial" and "unrecognised response" in tokens.error
    assert not summary.failed
    assert count(store, "SELECT count(*) FROM raw_records WHERE source_id = 'soql:OauthToken'") == 1
    status, details = store.execute(
        "SELECT status, details FROM runs WHERE unit_id = 'initech-prod/oauth_token'"
    ).fetchone()
    notes = json.loads(details)["notes"]
    assert status == "partial" and notes[0]["oauth_usage"] == "unrecognised_response"


def test_missing_usage_resources_keep_the_oauthtoken_rows(store, initech, keys, tmp_path):
    the_org(initech).faults.usage_shape = "absent"
    summary = ingest(store, write_config(initech, keys, tmp_path))
    tokens = unit(summary, "oauth_token")
    assert tokens.status == "partial" and "NOT_FOUND" in tokens.error and not summary.failed
    assert count(store, "SELECT count(*) FROM raw_records WHERE source_id = 'soql:OauthToken'") == 1


def test_a_connected_app_gets_no_usage_and_the_run_says_so(store, initech, keys, tmp_path):
    for app in the_org(initech).apps:
        app.external_client_app = False
    summary = ingest(store, write_config(initech, keys, tmp_path))
    tokens = unit(summary, "oauth_token")
    assert tokens.status == "ok"
    assert (
        count(store, "SELECT count(*) FROM raw_records WHERE source_id = 'rest:OAuthUsageToken'")
        == 0
    )
    assert any("External Client Apps only" in n.message for n in tokens.notes)
    details = json.loads(
        store.execute(
            "SELECT details FROM runs WHERE unit_id = 'initech-prod/oauth_token'"
        ).fetchone()[0]
    )
    assert details["notes"][0]["apps_without_usage"] == ["Acme Sync"]
