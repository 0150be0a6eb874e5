"""`alerts --format ocsf|ndjson|native-ndjson` and `alerts --incidents --format ocsf`: OCSF
Detection Findings validated offline against the published schema of OCSF_VERSION, carrying
the same ids and facts as `--format json`; a record that breaks the schema is caught."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard import queries
from dashboard.cli import cli
from dashboard.export.ocsf import OCSF_VERSION, alert_finding
from ingest import db

from .digest_helpers import CONFIG, NIGHT_1, insert_alerts, night_one_alerts
from .ocsf_schema import schema_errors


def run(store: Path, *args: str, config: Path | None = None) -> str:
    options = ["--db", str(store)] + (["--config", str(config)] if config else [])
    result = CliRunner().invoke(cli, [*options, "alerts", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def store_path(tmp_path) -> Path:
    path = tmp_path / "store.duckdb"
    with db.connect(path) as con:
        insert_alerts(con, night_one_alerts(), detected_at=NIGHT_1)
        con.execute(
            "UPDATE alerts SET evidence = ? WHERE alert_id = 'a1reuse000000000001'",
            [json.dumps({"token_fp": "fp:3a9c", "presentations": 2, "workers": ["w-1", "w-2"]})],
        )
        group_all(con)
    return path


def group_all(con) -> None:
    from detect import egress, incidents

    incidents.update(con, CONFIG, egress.load(con, CONFIG, NIGHT_1), now=NIGHT_1)


def test_ocsf_records_are_valid_and_carry_the_json_records_ids_and_facts(store_path, tmp_path):
    config = tmp_path / "tokensentry.toml"
    config.write_text('[digest]\ndashboard_url = "https://tokensentry.example.org"\n')
    native = json.loads(run(store_path, "--format", "json"))
    findings = json.loads(run(store_path, "--format", "ocsf", config=config))
    assert len(findings) == len(native) == 4
    for finding, record in zip(findings, native, strict=True):
        assert schema_errors(finding) == [], finding["finding_info"]["uid"]
        assert finding["class_uid"] == 2004 and finding["category_uid"] == 2
        assert finding["type_uid"] == 200401 and finding["activity_name"] == "Create"
        assert finding["metadata"]["version"] == OCSF_VERSION
        assert finding["metadata"]["product"]["name"] == "tokensentry"
        assert finding["metadata"]["product"]["vendor_name"] == "tokensentry"
        info = finding["finding_info"]
        assert info["uid"] == finding["metadata"]["uid"] == record["alert_id"]
        assert info["types"] == [record["detector"]]
        assert info["desc"] == finding["message"] == record["summary"]
        assert info["src_url"] == f"https://tokensentry.example.org/alert?id={record['alert_id']}"
        assert finding["severity"].lower().startswith(record["severity"][:3])
        assert (finding["status_id"], finding["status"]) == (1, "New")
        observed = {(o["type_id"], o["value"]) for o in finding["observables"]}
        assert {(2, ip) for ip in record["ips"]} <= observed
        assert (31, record["user_id"]) in observed and (99, record["app"]) in observed
        assert (10, record["org_id"]) in observed
        ips = [e["src_endpoint"]["ip"] for e in finding["evidences"] if "src_endpoint" in e]
        assert ips == record["ips"]
        assert finding["evidences"][-1]["data"] == record["evidence"]
        assert info["first_seen_time"] == finding["start_time"]
        assert info["last_seen_time"] == finding["end_time"] == finding["time"]
    critical = findings[0]
    assert (critical["severity_id"], critical["severity"]) == (5, "Critical")
    assert critical["evidences"][-1]["data"]["token_fp"] == "fp:3a9c"
    assert critical["remediation"]["desc"]  # the detector's runbook
    assert {"technique": {"uid": "T1550"}, "sub_technique": {"uid": "T1550.001"}} in critical[
        "finding_info"
    ]["attacks"]
    # 2026-05-10 21:00 UTC, the first alert's first event, in epoch milliseconds.
    assert critical["start_time"] == 1778446800000


def test_ndjson_is_one_valid_finding_per_line_and_native_ndjson_the_json_records(store_path):
    findings = json.loads(run(store_path, "--format", "ocsf"))
    lines = run(store_path, "--format", "ndjson").splitlines()
    assert [json.loads(line) for line in lines] == findings
    assert all(schema_errors(json.loads(line)) == [] for line in lines)
    native = json.loads(run(store_path, "--format", "json"))
    native_lines = run(store_path, "--format", "native-ndjson").splitlines()
    assert [json.loads(line) for line in native_lines] == native
    # A summary with a line break or a U+2028 stays on its line.
    assert all(line.startswith("{") and line.endswith("}") for line in lines + native_lines)


def test_triage_maps_to_ocsf_status_and_activity(store_path):
    with db.connect(store_path) as con:
        for alert_id, status in (
            ("a2offallow000000002", "false_positive"),
            ("a4newnet00000000004", "acknowledged"),
            ("a3client00000000003", "resolved"),
        ):
            queries.set_triage(con, alert_id, status, note="ours", analyst="ana", now=NIGHT_1)
    by_id = {f["finding_info"]["uid"]: f for f in json.loads(run(store_path, "--format", "ocsf"))}
    expected = {
        "a1reuse000000000001": (1, "New", 1),
        "a2offallow000000002": (3, "Suppressed", 3),
        "a3client00000000003": (4, "Resolved", 3),
        "a4newnet00000000004": (2, "In Progress", 1),
    }
    for alert_id, (status_id, status, activity) in expected.items():
        finding = by_id[alert_id]
        assert (finding["status_id"], finding["status"], finding["activity_id"]) == (
            status_id, status, activity,
        ), alert_id  # fmt: skip
        assert finding["type_uid"] == 200400 + activity
        assert schema_errors(finding) == []


def test_incidents_as_ocsf_carry_the_incident_ids(store_path):
    with db.connect(store_path) as con:  # an incident with no app and no user: NULLs
        con.execute("UPDATE alerts SET app_name = NULL, user_id = NULL")
        group_all(con)
    native = json.loads(run(store_path, "--incidents", "--format", "json"))
    assert any(r["app"] is None for r in native)
    lines = run(store_path, "--incidents", "--format", "native-ndjson").splitlines()
    strict = [
        json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} in JSON")) for line in lines
    ]
    assert strict == native
    findings = json.loads(run(store_path, "--incidents", "--format", "ocsf"))
    assert [f["finding_info"]["uid"] for f in findings] == [r["incident_id"] for r in native]
    assert findings, "the fixed store has incidents"
    for finding, record in zip(findings, native, strict=True):
        assert schema_errors(finding) == []
        assert finding["count"] == record["alert_count"]
        assert finding["finding_info"]["types"] == record["detectors"]


MUTATIONS = {
    "class_uid of another class": lambda f: f.update(class_uid=2001),
    "no finding_info.uid": lambda f: f["finding_info"].pop("uid"),
    "severity_id out of the enum": lambda f: f.update(severity_id=7),
    "status_id as text": lambda f: f.update(status_id="New"),
    "an attribute OCSF does not have": lambda f: f.update(alert_id="a1"),
    "an observable without type_id": lambda f: f["observables"][0].pop("type_id"),
    "time as ISO text": lambda f: f.update(time="2026-05-10T21:00:00Z"),
    "no metadata.version": lambda f: f["metadata"].pop("version"),
    "an empty evidence artifact": lambda f: f["evidences"].append({}),
    "type_uid of no activity": lambda f: f.update(type_uid=200407),
}


@pytest.mark.parametrize("mutation", MUTATIONS, ids=list(MUTATIONS))
def test_a_record_that_breaks_the_schema_is_caught(store_path, mutation):
    with db.connect(store_path, read_only=True) as con:
        record = queries.alert_records(queries.alerts(con))[0]
    finding = alert_finding(record)
    assert schema_errors(finding) == []
    broken = copy.deepcopy(finding)
    MUTATIONS[mutation](broken)
    assert schema_errors(broken), f"{mutation}: the validator accepted a broken record"


def test_every_demo_alert_and_incident_is_a_valid_finding(demo_build):
    """Every detector's real evidence shape, through the same mapping."""
    _, store, _ = demo_build
    with db.connect(store, read_only=True) as con:
        alerts = queries.alert_records(queries.alerts(con, include_superseded=True))
        incidents = queries.incident_records(queries.incidents(con, queries.Filters()))
    from dashboard.export.ocsf import incident_finding

    assert len({a["detector"] for a in alerts}) >= 8
    for record in alerts:
        assert schema_errors(alert_finding(record)) == [], record["alert_id"]
    for record in incidents:
        assert schema_errors(incident_finding(record)) == [], record["incident_id"]


def test_the_digest_names_the_same_alert_id_with_or_without_dashboard_links(store_path):
    from dashboard.digest import collect
    from dashboard.digest.message import render_options
    from dashboard.digest.render import render_html, render_text
    from ingest import config as config_module

    no_links = config_module.parse({"digest": {"to": ["secops@example.org"]}}, base_dir=Path("."))
    with db.connect(store_path, read_only=True) as con:
        ids = [r["alert_id"] for r in queries.alert_records(queries.alerts(con))]
        plain = collect(con, no_links, now=NIGHT_1)
        linked = collect(con, CONFIG, now=NIGHT_1)
    text = render_text(plain, render_options(no_links))
    html = render_html(plain, render_options(no_links))
    assert "http" not in text
    for alert_id in ids:
        assert f"alert {alert_id}" in text
        assert f"Alert {alert_id}" in html
        assert f"/alert?id={alert_id}" in render_text(linked, render_options(CONFIG))
