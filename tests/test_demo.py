"""`tokensentry demo --no-serve` end to end: each planted scenario yields its alert, no others."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.cli import cli
from ingest import db, demo_data

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    store = folder / "demo.duckdb"
    result = CliRunner().invoke(
        cli,
        ["--db", str(store), "demo", "--no-serve", "--dir", str(folder)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    return folder, store


def alerts_of(store: Path) -> list[dict]:
    result = CliRunner().invoke(cli, ["--db", str(store), "alerts", "--format", "json"])
    return json.loads(result.stdout)


def test_each_planted_scenario_has_its_alerts_and_nothing_else(demo_store):
    _, store = demo_store
    alerts = alerts_of(store)
    planted = {org.org_id: demo_data.ATTACKS[org.alias][0] for org in demo_data.ORGS}
    assert all(a["ips"] == [planted[a["org_id"]]] for a in alerts), "an alert on benign traffic"
    found = {(a["org_id"], a["detector"], a["severity"]) for a in alerts}
    acme, globex, initech = planted
    assert found == {
        (acme, "off_allowlist_ip", "high"), (acme, "new_network", "medium"),
        (acme, "suspicious_client", "critical"),  # the Drift IP
        (acme, "suspicious_client", "medium"),  # python-requests, not the integration's agent
        (globex, "off_allowlist_ip", "medium"), (globex, "new_network", "medium"),
        (globex, "suspicious_client", "high"),  # a Tor exit, every attempt blocked
        (initech, "off_allowlist_ip", "high"), (initech, "new_network", "medium"),
    }  # fmt: skip


def test_logins_of_the_event_monitoring_org_merge_across_sources(demo_store):
    _, store = demo_store
    with db.connect(store, read_only=True) as con:
        elf_rows = con.execute("SELECT count(*) FROM raw_elf").fetchone()[0]
        merged = con.execute(
            "SELECT count(*) FROM events WHERE list_contains(sources, 'elf:Login') "
            "AND list_contains(sources, 'soql:LoginHistory')"
        ).fetchone()[0]
        elf_only = con.execute(
            "SELECT count(*) FROM events WHERE sources = ['elf:Login']"
        ).fetchone()[0]
        integration_refreshes = con.execute(
            "SELECT count(*) FROM events WHERE grant_type = 'refresh_token' AND event_type = 'login'"
        ).fetchone()[0]
    assert elf_rows > 100 and merged == elf_rows and elf_only == 0
    assert integration_refreshes > 3 * demo_data.DAYS * 20  # every 15-60 min, 3 orgs


def test_running_the_demo_again_changes_no_alert(demo_store):
    folder, store = demo_store
    before = {a["alert_id"]: a["event_count"] for a in alerts_of(store)}
    result = CliRunner().invoke(
        cli, ["--db", str(store), "demo", "--no-serve", "--dir", str(folder)]
    )
    assert result.exit_code == 0, result.stderr
    assert {a["alert_id"]: a["event_count"] for a in alerts_of(store)} == before


def test_demo_refuses_a_store_holding_other_orgs(tmp_path):
    store = tmp_path / "real.duckdb"
    partner = tmp_path / "p.jsonl"
    partner.write_text(
        json.dumps(
            {
                "ts": "2026-11-01T09:30:00Z",
                "org_id": "00D000000000001",
                "app": "X",
                "user_id": None,
                "grant_type": "refresh_token",
                "token_fp": None,
                "new_token_fp": None,
                "egress_ip": "192.0.2.1",
                "worker": "w",
                "outcome": "success",
                "error_description": None,
                "pkce": None,
            }
        )
        + "\n"
    )
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", str(store), "import", str(partner)]).exit_code == 0
    result = runner.invoke(
        cli, ["--db", str(store), "demo", "--no-serve", "--dir", str(tmp_path / "d")]
    )
    assert result.exit_code == 2 and "holds events of other orgs" in result.stderr


def test_make_demo_no_serve(tmp_path):
    """The README's own command, with the store and files kept out of the checkout."""
    args = f"--no-serve --dir {tmp_path} --db {tmp_path / 'make.duckdb'}"
    result = subprocess.run(
        ["make", "--no-print-directory", "demo", f"ARGS={args}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "open alerts: 1 critical, 3 high, 5 medium" in result.stderr.replace("\n", " ")
    assert len(alerts_of(tmp_path / "make.duckdb")) == 9
