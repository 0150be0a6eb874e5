from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from detect import egress
from detect import incidents as incident_grouping
from ingest import config as config_module
from ingest import db

from ..conftest import built_demo
from .browser import BrowserMissing, chromium

# Attacker-chosen: a Connected App's name is whatever its creator typed.
HOSTILE_APP = "**bold** <img src=x onerror=alert(1)> [link](http://evil)"


@pytest.fixture(scope="session")
def demo_db(request, tmp_path_factory) -> Path:
    """The demo as of yesterday (the default reference date, so the pages show fresh data),
    built once per run and copied for this worker."""
    return built_demo(request, tmp_path_factory, "dashboard-demo") / "demo.duckdb"


@pytest.fixture
def store_copy(demo_db, tmp_path) -> Path:
    """A private copy of the demo store, for tests that write (triage, known egress)."""
    copy = tmp_path / "store.duckdb"
    shutil.copy(demo_db, copy)
    shutil.copy(demo_db.parent / "tokensentry.toml", tmp_path / "tokensentry.toml")
    return copy


def plant_alert(
    store: Path,
    *,
    alert_id: str,
    app: str,
    ip: str = "198.51.100.66",
    detector: str = "off_allowlist_ip",
    severity: str = "high",
    places: list[tuple[str, str, str, float, float]] | None = None,
    token_fps: list[tuple[str, str, str | None, bool]] | None = None,
) -> str:
    """Events and an alert of our own in the store, grouped into an incident by detect's real
    grouping; returns the incident id (the alert's, being the first).

    `places`: one event per (ip, city, country, latitude, longitude), an hour apart.
    `token_fps`: one token-exchange event per (worker, presented, returned, accepted).
    """
    places = places or [(ip, "Amsterdam", "NL", 52.37, 4.89)]
    with db.connect(store) as con:
        newest = con.execute("SELECT max(occurred_at) FROM events").fetchone()[0]
        org = con.execute("SELECT min(org_id) FROM events").fetchone()[0]
        rows = [
            dict(source_ip=place_ip, city=city, country_iso=country, latitude=lat,
                 longitude=lon, is_success=True, event_type="login")
            for place_ip, city, country, lat, lon in places
        ] + [
            dict(source_ip=ip, worker=worker, token_fp=presented, new_token_fp=returned,
                 is_success=accepted, event_type="token_exchange")
            for worker, presented, returned, accepted in token_fps or []
        ]  # fmt: skip
        event_ids = []
        start = newest - timedelta(hours=len(rows))
        for index, row in enumerate(rows):
            event_id = f"planted-{alert_id}-{index}"
            event_ids.append(event_id)
            at = start + timedelta(hours=index + 1)
            values = {
                "event_id": event_id, "org_id": org, "occurred_at": at,
                "grant_type": "refresh_token", "user_id": "005PLANTED0000000A",
                "app_name": app, "user_agent": app, "sources": ["test"],
                "first_run_id": "test", "ingested_at": at, "updated_at": at, **row,
            }  # fmt: skip
            con.execute(
                f"INSERT INTO events ({', '.join(values)}) "
                f"VALUES ({', '.join('?' for _ in values)})",
                list(values.values()),
            )
        ips = sorted({row["source_ip"] for row in rows})
        con.execute(
            """INSERT INTO alerts (alert_id, detector_id, dedup_key, severity, org_id, app_name, user_id,
                   ips, first_seen_at, last_seen_at, event_count, event_ids, title, summary,
                   evidence, first_run_id, last_run_id, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, '005PLANTED0000000A', ?, ?, ?, ?,
                   ?, ?, ?, '{"planted": true}', 'test', 'test', ?, ?)""",
            [
                alert_id, detector, f"planted|{alert_id}", severity, org, app, ips,
                start, newest, len(rows), event_ids, f"{app} used from {ip}",
                f"{app} refreshed a token from {ip}, outside its allowlist", newest, newest,
            ],
        )  # fmt: skip
        config = config_module.load(store.parent / "tokensentry.toml")
        incident_grouping.update(con, config, egress.load(con, config, newest), now=newest)
        return con.execute(
            "SELECT incident_id FROM incident_alerts WHERE alert_id = ?", [alert_id]
        ).fetchone()[0]


@pytest.fixture
def plant():
    return plant_alert


@pytest.fixture
def browser(tmp_path):
    """A headless Chromium for the real-browser page tests; closed after the test."""
    try:
        driver = chromium(tmp_path / "profile")
    except BrowserMissing as exc:
        pytest.fail(str(exc))
    yield driver
    driver.quit()
