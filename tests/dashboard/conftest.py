from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.cli import cli
from detect import egress
from detect import incidents as incident_grouping
from ingest import config as config_module
from ingest import db

# Attacker-chosen: a Connected App's name is whatever its creator typed.
HOSTILE_APP = "**bold** <img src=x onerror=alert(1)> [link](http://evil)"


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dashboard-demo")
    store = folder / "demo.duckdb"
    result = CliRunner().invoke(
        cli, ["--db", str(store), "demo", "--no-serve", "--dir", str(folder)]
    )
    assert result.exit_code == 0, result.stderr
    return store


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
    when: datetime | None = None,
) -> str:
    """An event and an alert of our own in the store, grouped into an incident by detect's
    real grouping; returns the incident id (the alert's, being the first)."""
    with db.connect(store) as con:
        newest = when or con.execute("SELECT max(occurred_at) FROM events").fetchone()[0]
        org = con.execute("SELECT min(org_id) FROM events").fetchone()[0]
        event_id = f"planted-{alert_id}"
        con.execute(
            """INSERT INTO events (event_id, org_id, occurred_at, event_type, grant_type,
                   is_success, user_id, app_name, source_ip, country_iso, city, latitude,
                   longitude, user_agent, sources, first_run_id, ingested_at, updated_at)
               VALUES (?, ?, ?, 'login', 'refresh_token', true, '005PLANTED0000000A', ?, ?,
                       'NL', 'Amsterdam', 52.37, 4.89, ?, ['test'], 'test', ?, ?)""",
            [event_id, org, newest, app, ip, app, newest, newest],
        )
        con.execute(
            """INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, '005PLANTED0000000A', [?], ?, ?, 1,
                   [?], ?, ?, '{"planted": true}', 'test', 'test', ?, ?)""",
            [
                alert_id, detector, f"planted|{alert_id}", severity, org, app, ip,
                newest - timedelta(minutes=5), newest, event_id, f"{app} used from {ip}",
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
