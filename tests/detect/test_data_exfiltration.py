"""data_exfiltration and the blast radius through the real importer: event log files in
Salesforce's shapes (RestApi pages named only by their query locator, ApiTotalUsage rows of the
same calls, a Bulk API 2.0 job logged once per state change and deleted), then `detect`."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.cli import cli
from dashboard.queries.blast_radius import NO_LOGS, blast_radius, blast_radius_line
from detect import runner
from detect.testing import ALLOWED_IP, ALLOWLIST, APP, ORG, OTHER_ORG, USER, insert_events, refresh
from ingest import db
from ingest.importer import import_paths

from ..conftest import FIXED_NOW
from .sf_files import apitotalusage_row, bulkapi2_row, login_row, restapi_row, write_elf

ORG15, USER15, APP_ID15 = ORG[:15], USER[:15], "0H45g000000AcMe"
THIEF = "198.51.100.7"
THEFT = datetime(2026, 11, 20, 3, 0)
LOCATOR = "01gD0000000AbCd"
CONFIG = f'[apps."{APP}"]\nallowlist = {json.dumps(list(ALLOWLIST))}\n'


def _call(moment: datetime, ip: str, key: str, entity: str, rows: int, uri: str = "") -> list:
    """A RestApi row and the ApiTotalUsage row of the same call (same REQUEST_ID)."""
    rest = restapi_row(moment, ip, org15=ORG15, user15=USER15, login_key=key, app_id15=APP_ID15,
                       entity=entity)  # fmt: skip
    rest.update(ROWS_PROCESSED=str(rows), URI=uri or rest["URI"], USER_AGENT="Java/17.0.9")
    usage = apitotalusage_row(moment, ip, org15=ORG15, user15=USER15, app_id15=APP_ID15,
                              app_name=APP)  # fmt: skip
    usage.update(ENTITY_NAME=entity, REQUEST_ID=rest["REQUEST_ID"])
    return [rest, usage]


def _files(folder: Path) -> list[Path]:
    rest, usage, logins, bulk = [], [], [], []
    for day in range(1, 15):  # the partner: 200 Accounts a day from its allowlisted egress
        moment = datetime(2026, 11, day, 1, 30)
        logins.append(login_row(moment - timedelta(seconds=5), ALLOWED_IP, org15=ORG15,
                                user15=USER15, login_key=f"partner{day}"))  # fmt: skip
        r, u = _call(moment, ALLOWED_IP, f"partner{day}", "Account", 200)
        rest.append(r)
        usage.append(u)
    logins.append(login_row(THEFT - timedelta(minutes=1), THIEF, org15=ORG15, user15=USER15,
                            login_key="thiefkey", agent="python-requests/2.32.4"))  # fmt: skip
    first, first_usage = _call(THEFT, THIEF, "thiefkey", "Opportunity", 2000)
    rest.append(first)
    usage.append(first_usage)
    for page in range(1, 21):  # later pages: the locator only, no object
        r, u = _call(THEFT + timedelta(seconds=page), THIEF, "thiefkey", "", 2000,
                     uri=f"/services/data/v62.0/query/{LOCATOR}-{page * 2000}")  # fmt: skip
        rest.append(r)
        usage.append(u)
    for minutes, status, count in ((2, "UploadComplete", "0"), (4, "InProgress", "30000"),
                                   (7, "JobComplete", "60000"), (9, "Deleted", "0")):  # fmt: skip
        row = bulkapi2_row(THEFT + timedelta(minutes=minutes), THIEF, org15=ORG15,
                           user15=USER15, login_key="thiefkey", job="7505g00000JoBiD")  # fmt: skip
        row.update(JOB_STATUS=status, RECORDS_PROCESSED=count, ENTITY_TYPE="Case")
        bulk.append(row)
    return [
        write_elf(folder / "Login.csv", "Login", logins),
        write_elf(folder / "RestApi.csv", "RestApi", rest),
        write_elf(folder / "ApiTotalUsage.csv", "ApiTotalUsage", usage),
        write_elf(folder / "BulkApi2.csv", "BulkApi2", bulk),
    ]


def build_store(folder: Path) -> Path:
    """A store file beside its `tokensentry.toml`: the files imported, a LoginHistory-only org
    seen by the thief too, and every detector run."""
    from ingest import config as config_module

    path = folder / "store.duckdb"
    config = folder / "tokensentry.toml"
    config.write_text(CONFIG, encoding="utf-8")
    con = db.open_store(path)
    import_paths(con, _files(folder / "files"), org_id=None, run_id="i", now=lambda: FIXED_NOW)
    insert_events(con, [refresh(THEFT.isoformat(), THIEF, org_id=OTHER_ORG)],
                  loaded_at=FIXED_NOW)  # fmt: skip
    runner.run(con, config_module.load(config), run_id="d", now=lambda: FIXED_NOW,
               rescan_all=True)  # fmt: skip
    con.close()
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return build_store(tmp_path_factory.mktemp("exfil"))


def _alerts(path: Path, detector: str) -> list[dict]:
    con = db.open_store(path, read_only=True)
    try:
        rows = con.execute(
            "SELECT alert_id, severity, org_id, summary, evidence FROM alerts "
            "WHERE detector_id = ? ORDER BY alert_id",
            [detector],
        ).fetchall()
    finally:
        con.close()
    return [dict(zip(["id", "severity", "org", "summary", "evidence"], r, strict=True))
            for r in rows]  # fmt: skip


def test_ingest_keeps_object_uri_job_and_state_of_api_rows(store):
    con = db.open_store(store, read_only=True)
    try:
        jobs = con.execute(
            "SELECT job_id, job_status, entity_name, operation, rows_processed FROM events "
            "WHERE job_id IS NOT NULL ORDER BY occurred_at"
        ).fetchall()
        pages = con.execute(
            "SELECT count(*) FROM events WHERE starts_with(uri, '/services/data/v62.0/query/') "
            "AND entity_name IS NULL AND list_contains(sources, 'elf:RestApi')"
        ).fetchone()[0]
    finally:
        con.close()
    assert [j[1] for j in jobs] == ["UploadComplete", "InProgress", "JobComplete", "Deleted"]
    assert {(j[0], j[2], j[3]) for j in jobs} == {("7505g00000JoBiD", "Case", "query")}
    assert pages == 20


def test_the_theft_is_critical_and_names_what_was_taken(store):
    [alert] = _alerts(store, "data_exfiltration")
    evidence = json.loads(alert["evidence"])
    assert alert["severity"] == "critical"  # the same session refreshed off the allowlist
    objects = {o["object"]: o["rows"] for o in evidence["objects"]}
    # The job counts once, at its largest count (its Deleted row reports 0); the 20 later
    # pages count for the query they continue; the ApiTotalUsage rows add nothing.
    assert objects == {"Opportunity": 42_000, "Case": 60_000}
    assert evidence["rows_total"] == 102_000
    assert [(j["job_id"], j["rows"], j["status"]) for j in evidence["jobs"]] == [
        ("7505g00000JoBiD", 60_000, "Deleted")
    ]
    assert evidence["session"] == "thiefkey"
    assert "60,000 Case" in alert["summary"] and "42,000 Opportunity" in alert["summary"]
    assert "off_allowlist_ip" in alert["summary"]


def test_the_partners_daily_reads_raise_nothing(store):
    assert all(json.loads(a["evidence"])["session"] == "thiefkey"
               for a in _alerts(store, "data_exfiltration"))  # fmt: skip


def test_blast_radius_per_org_with_coverage(store):
    con = db.open_store(store, read_only=True)
    try:
        incidents = con.execute(
            "SELECT DISTINCT m.incident_id, a.org_id FROM incident_alerts m "
            "JOIN alerts a USING (alert_id) WHERE a.detector_id = 'off_allowlist_ip'"
        ).fetchall()
        by_org = {org: blast_radius(con, incident) for incident, org in incidents}
    finally:
        con.close()
    theft = by_org[ORG]
    [org] = theft["orgs"]
    assert org["covered"] and "RestApi" in org["coverage"] and "BulkApi2" in org["coverage"]
    assert {o["object"]: o["rows"] for o in org["objects"]} == {
        "Case": 60_000,
        "Opportunity": 42_000,
    }
    assert theft["first_minute"] == "2026-11-20T03:00Z"
    assert theft["last_minute"] == "2026-11-20T03:09Z"
    assert theft["sessions"] == ["thiefkey"] and theft["addresses"] == [THIEF]
    # An org that sent no API logs: not "nothing exported".
    other = by_org[OTHER_ORG]
    assert other["orgs"][0]["coverage"] == NO_LOGS and not other["orgs"][0]["covered"]
    assert blast_radius_line(other) == f"Blast radius: {NO_LOGS}: {OTHER_ORG}."
    assert blast_radius_line(theft).startswith(
        "Blast radius: 102,000 rows read (Case 60,000, Opportunity 42,000) in 1 org(s)"
    )


def test_alerts_incidents_json_carries_the_blast_radius(store, tmp_path):
    config = tmp_path / "tokensentry.toml"
    config.write_text(CONFIG, encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["--db", str(store), "--config", str(config), "alerts", "--incidents",
              "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert records and all("blast_radius" in r for r in records)
    totals = {r["org_id"]: r["blast_radius"]["rows_total"] for r in records if r["org_id"]}
    assert totals[ORG] == 102_000 and totals[OTHER_ORG] == 0


def test_a_login_file_landing_after_the_api_files_raises_the_alert_to_critical(tmp_path):
    """Incremental detection: the API files alone make the export high; the Login file that
    shows the session's refresh from outside the allowlist lands later, and the next run
    re-judges the session as critical (same alert)."""
    from ingest import config as config_module

    config = tmp_path / "tokensentry.toml"
    config.write_text(CONFIG, encoding="utf-8")
    cfg = config_module.load(config)
    files = _files(tmp_path / "files")
    logins = [f for f in files if f.name == "Login.csv"]
    con = db.memory()
    import_paths(con, [f for f in files if f not in logins], org_id=None, run_id="i1",
                 now=lambda: FIXED_NOW)  # fmt: skip
    runner.run(con, cfg, run_id="d1", now=lambda: FIXED_NOW)
    first = con.execute(
        "SELECT alert_id, severity FROM alerts WHERE detector_id = 'data_exfiltration'"
    ).fetchall()
    later = FIXED_NOW + timedelta(hours=5)
    import_paths(con, logins, org_id=None, run_id="i2", now=lambda: later)
    runner.run(con, cfg, run_id="d2", now=lambda: later)
    second = con.execute(
        "SELECT alert_id, severity FROM alerts WHERE detector_id = 'data_exfiltration'"
    ).fetchall()
    assert [s for _, s in first] == ["high"]
    assert second == [(first[0][0], "critical")]


def test_a_bulk_job_counts_once_v2_by_its_largest_count_v1_by_its_batches():
    """BulkApi2 logs every state change of a job with a growing counter; Bulk API 1.0 logs
    one row per batch, whose rows add up."""
    from detect import api_reads
    from detect.detectors.data_exfiltration import job

    v1 = [{**job(f"2026-11-20T03:0{n}:00", "7505g00000BaTcH", "Lead", 4000, "Completed"),
           "sources": ["elf:BulkApi"]} for n in range(3)]  # fmt: skip
    v2 = [job("2026-11-20T03:00:00", "7505g00000JoBv2", "Case", 0, "UploadComplete"),
          job("2026-11-20T03:04:00", "7505g00000JoBv2", "Case", 5000, "InProgress"),
          job("2026-11-20T03:09:00", "7505g00000JoBv2", "Case", 9000, "JobComplete")]  # fmt: skip
    con = db.memory()
    insert_events(con, [*v1, *v2], loaded_at=FIXED_NOW)
    assert api_reads.build(con, datetime(2026, 11, 1), FIXED_NOW) == 2
    rows = con.execute(
        "SELECT job_id, entity, rows, job_status, len(event_ids) FROM api_reads ORDER BY job_id"
    ).fetchall()
    assert rows == [("7505g00000BaTcH", "Lead", 12_000, "Completed", 3),
                    ("7505g00000JoBv2", "Case", 9_000, "JobComplete", 3)]  # fmt: skip
