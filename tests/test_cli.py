"""The command line as cron jobs and scripts use it: exit codes, formats, located errors."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.cli import cli

from .ingest.helpers import elf_login, write_elf

REPO = Path(__file__).resolve().parent.parent
CONTRACT_FIELDS = {
    "alert_id",
    "detector",
    "severity",
    "org_id",
    "app",
    "user_id",
    "ips",
    "first_seen",
    "last_seen",
    "event_count",
    "summary",
    "status",
    "evidence",
}
CONFIG = """
[apps."Acme Sync"]
allowlist = ["203.0.113.0/28"]
"""


@pytest.fixture
def env(tmp_path):
    config = tmp_path / "tokensentry.toml"
    config.write_text(CONFIG)
    return {"TOKENSENTRY_DB": str(tmp_path / "t.duckdb"), "TOKENSENTRY_CONFIG": str(config)}


def invoke(env, *args):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def partner_log(tmp_path, ip="198.51.100.200"):
    path = tmp_path / "partner.jsonl"
    path.write_text(
        json.dumps(
            {
                "ts": "2026-11-01T09:30:00Z",
                "org_id": "00D5g000004XyZa",
                "app": "Acme Sync",
                "user_id": "0055g00000AbCdE",
                "grant_type": "refresh_token",
                "token_fp": "a",
                "new_token_fp": "b",
                "egress_ip": ip,
                "worker": "w1",
                "outcome": "success",
                "error_description": None,
                "pkce": None,
            }
        )
        + "\n"
    )
    return path


def test_import_detect_alerts_round_trip(env, tmp_path):
    assert invoke(env, "import", str(partner_log(tmp_path))).exit_code == 0
    result = invoke(env, "detect", "--format", "json")
    assert result.exit_code == 0
    by_detector = {d["detector_id"]: d for d in json.loads(result.stdout)["detectors"]}
    assert by_detector["off_allowlist_ip"]["alerts_new"] == 1
    assert sum(d["alerts_new"] for d in by_detector.values()) == 1
    alerts = json.loads(invoke(env, "alerts", "--format", "json").stdout)
    assert len(alerts) == 1 and set(alerts[0]) >= CONTRACT_FIELDS
    alert = alerts[0]
    assert (alert["detector"], alert["severity"], alert["status"]) == (
        "off_allowlist_ip",
        "high",
        "new",
    )
    assert alert["org_id"] == "00D5g000004XyZaEAK" and alert["ips"] == ["198.51.100.200"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", alert["first_seen"])
    rows = list(csv.DictReader(io.StringIO(invoke(env, "alerts", "--format", "csv").stdout)))
    assert rows[0]["alert_id"] == alert["alert_id"] and rows[0]["ips"] == "198.51.100.200"
    table = invoke(env, "alerts").stdout
    assert alert["alert_id"] in table and "198.51.100.200" in table

    assert (
        invoke(
            env, "triage", alert["alert_id"], "--status", "resolved", "--note", "revoked"
        ).exit_code
        == 0
    )
    assert invoke(env, "detect", "--all").exit_code == 0
    again = json.loads(invoke(env, "alerts", "--format", "json", "--status", "resolved").stdout)
    assert [a["alert_id"] for a in again] == [alert["alert_id"]]
    assert json.loads(invoke(env, "alerts", "--format", "json", "--status", "new").stdout) == []


def test_exit_1_when_a_file_has_quarantined_rows(env, tmp_path):
    good = elf_login("20261101093000.500", "203.0.113.5")
    path = write_elf(
        tmp_path / "Login.csv", [good, {**good, "TIMESTAMP": "x", "TIMESTAMP_DERIVED": ""}]
    )
    result = invoke(env, "import", "--format", "json", str(path))
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["totals"]["rows_quarantined"] == 1 and report["totals"]["rows_new"] == 1
    assert list(report["quarantine_reasons"].values()) == [1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "no/such/file.csv"], "no/such/file.csv: no such file or folder"),
        (["import", "--org", "00D", "."], "--org '00D': not a 15- or 18-character"),
        (["detect", "--since", "last tuesday"], "--since: 'last tuesday' is neither"),
        (["detect", "--detector", "nope"], "--detector nope: no such detector"),
        (["triage", "abc", "--status", "resolved"], "alert abc: no such alert"),
    ],
)
def test_usage_errors_exit_2_and_say_what_is_wrong(env, tmp_path, args, message):
    invoke(env, "import", str(partner_log(tmp_path)))
    result = invoke(env, *args)
    assert result.exit_code == 2
    assert message in result.stderr.replace("\n", " ")


def test_config_error_exits_2_naming_the_key(env, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[digest]\nsecurity = "ssl"\n')  # a shared section: every command stops
    result = invoke(env, "detect", "--config", str(bad))
    assert result.exit_code == 2
    assert "digest.security: must be" in result.stderr


def test_alerts_without_a_database_says_what_to_do(tmp_path):
    result = invoke({"TOKENSENTRY_DB": str(tmp_path / "none.duckdb")}, "alerts")
    assert result.exit_code == 2 and "run `tokensentry demo` or `import`" in result.stderr


def test_installed_console_script_lists_every_command():
    script = Path(sys.executable).with_name("tokensentry")
    output = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True)
    for name in cli.commands:
        assert re.search(rf"^\s+{name}\s", output.stdout, re.MULTILINE), name


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help_an_example_and_a_readme_row(name):
    command = cli.commands[name]
    assert command.help
    assert f"`tokensentry {name}" in (REPO / "README.md").read_text()
    if name not in ("dashboard",):
        assert "Example:" in command.help


def test_an_error_in_a_pipe_keeps_a_long_path_on_one_line(env, tmp_path):
    """A log reader greps for the path; a hard wrap at 80 columns would split it."""
    missing = tmp_path / ("a-folder-with-a-long-name-" * 4) / "token-exchange-log.csv"
    result = invoke(env, "import", str(missing))
    assert result.exit_code == 2
    assert f"{missing}: no such file or folder" in result.stderr.splitlines()[-1]
