"""Threat Detection findings: ingested through simple-salesforce over HTTPS from the fake
Salesforce (an org with Threat Detection, one without, one with three of the four objects),
incrementally by EventDate; and imported from Data Loader CSV exports."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from simple_salesforce import Salesforce, SalesforceMalformedRequest

from dashboard.queries.health import pipeline_health
from ingest.formats.records import classify
from sandbox.fakesf import threat
from sandbox.fakesf.fleet import connection, demo_orgs
from sandbox.fakesf.model import FakeOrg
from sandbox.fakesf.server import FakeSalesforce

from .helpers import run_import
from .live import ACME, FLEET, GLOBEX, INITECH, NOW, SETTINGS, count, ingest, keys

__all__ = ["keys"]  # the module-scoped key pair fixture

EVENT_DATA = json.dumps(
    {"browserFingerprint": {"changed": ["userAgent", "platform", "ip"]}, "riskFactor": "high"}
)
HIJACK_SESSION = "vMASKqv2mnb8fZpG"
HIJACKER = "185.220.101.33"
ORG15 = ACME[:15]


def person(org: FakeOrg) -> tuple[str, str]:
    """A (username, user id) of a person of the org (not the monitor or integration user)."""
    return next(
        (name, user)
        for name, user in sorted(org.users.items())
        if not name.startswith(("monitor@", "integration"))
    )


def findings(org: FakeOrg, at) -> list[dict]:
    username, user_id = person(org)
    common = {"user_id": user_id, "username": username}
    return [
        threat.finding(
            "SessionHijackingEventStore", org.org_id, at - timedelta(days=3), **common,
            source_ip=HIJACKER, score=0.93, summary="Browser fingerprint changed mid-session",
            event_data=EVENT_DATA, session_key=HIJACK_SESSION, login_key="lUqjLPQTWRdvRG4",
            CurrentIp=HIJACKER, PreviousIp="203.0.113.20", CurrentUserAgent="python-requests/2.31",
            PreviousUserAgent="Mozilla/5.0 (Macintosh)", CurrentPlatform="Linux x86_64",
            PreviousPlatform="MacIntel",
        ),
        threat.finding(
            "CredentialStuffingEventStore", org.org_id, at - timedelta(days=2), **common,
            source_ip="198.51.100.80", score=1.0, summary="Login succeeded during an attack",
            LoginType="Application", LoginUrl="login.salesforce.com", AcceptLanguage="zh",
            UserAgent="curl/8.4",
        ),
        threat.finding(
            "ApiAnomalyEventStore", org.org_id, at - timedelta(days=1), **common,
            source_ip="198.51.100.81", score=96.5, summary="Unusual volume of Account queries",
            event_data=EVENT_DATA, policy_outcome="Notified", Operation="Query",
            QueriedEntities="Account", RowsProcessed=50000.0, Uri="/services/data/v62.0/query",
            RequestIdentifier="TID:912", UserAgent="Bulk Exporter",
        ),
        threat.finding(
            "ReportAnomalyEventStore", org.org_id, at - timedelta(hours=5), **common,
            source_ip="198.51.100.82", score=71.0, summary="Report exported at an unusual hour",
            event_data=EVENT_DATA, policy_outcome="Block", Report="00O5g000000AbCdEAK",
        ),
    ]  # fmt: skip


@pytest.fixture
def fake(keys) -> Iterator[FakeSalesforce]:
    """acme-prod with Threat Detection, initech without, globex without ApiAnomalyEventStore."""
    orgs = [o for o in demo_orgs(FLEET, keys) if o.org_id in (ACME, INITECH, GLOBEX)]
    by_id = {o.org_id: o for o in orgs}
    threat.enable(by_id[ACME], findings(by_id[ACME], NOW))
    threat.enable(by_id[GLOBEX], findings(by_id[GLOBEX], NOW)[1:2])
    by_id[GLOBEX].licensed_objects.discard("ApiAnomalyEventStore")
    with FakeSalesforce(orgs, page_size=2) as server:  # two per page: every query pages
        yield server


def config_for(fake: FakeSalesforce, keys, folder: Path) -> Path:
    key = folder / "ingest.pem"
    key.write_bytes(keys.private_pem)
    blocks = [
        connection(o.alias, o.org_id, "subscriber", ["threat_detection"], fake.url,
                   str(fake.ca_path), str(key))
        for o in fake.orgs
    ]  # fmt: skip
    path = folder / "tokensentry.toml"
    path.write_text("\n".join(blocks) + SETTINGS)
    return path


def test_findings_are_ingested_where_the_org_has_threat_detection(store, fake, keys, tmp_path):
    summary = ingest(store, config_for(fake, keys, tmp_path))
    acme = next(u for u in summary.units if u.org_id == ACME)
    assert acme.status == "ok" and acme.result.events_new == 4, acme
    # no Shield: every object answers INVALID_TYPE; recorded "not available", not a failure
    initech = next(u for u in summary.units if u.org_id == INITECH)
    assert initech.status == "not_available" and "INVALID_TYPE" in initech.error
    assert not summary.failed
    # three of four objects: what it has is loaded, the missing one is said
    globex = next(u for u in summary.units if u.org_id == GLOBEX)
    assert globex.status == "ok" and globex.result.events_new == 1
    assert any("ApiAnomalyEventStore" in n.message for n in globex.notes)
    rows = store.execute(
        """SELECT threat_kind, threat_score, policy_outcome, source_ip, session_key,
                  threat_summary, threat_data, threat_context, user_agent, api_resource,
                  rows_processed, sources
           FROM events WHERE org_id = ? AND event_type = 'threat_detection'
           ORDER BY occurred_at""",
        [ACME],
    ).fetchall()
    assert [r[0] for r in rows] == [
        "session_hijacking", "credential_stuffing", "api_anomaly", "report_anomaly",
    ]  # fmt: skip
    hijack, stuffing, api, report = rows
    assert hijack[1:5] == (0.93, "NoAction", HIJACKER, HIJACK_SESSION)
    assert hijack[5] == "Browser fingerprint changed mid-session"
    assert json.loads(hijack[6]) == json.loads(EVENT_DATA)  # SecurityEventData verbatim
    context = json.loads(hijack[7])
    assert context["PreviousIp"] == "203.0.113.20" and context["CurrentIp"] == HIJACKER
    assert hijack[8] == "python-requests/2.31"
    assert stuffing[6] is None and json.loads(stuffing[7])["AcceptLanguage"] == "zh"
    assert api[9:11] == ("/services/data/v62.0/query", 50000)
    assert report[2] == "Block" and report[9] == "00O5g000000AbCdEAK"
    assert report[11] == ["soql:ReportAnomalyEventStore"]


def test_each_run_reads_from_the_last_window_minus_the_lag(store, fake, keys, tmp_path):
    config = config_for(fake, keys, tmp_path)
    ingest(store, config)
    org = fake.org(ACME)
    later = NOW + timedelta(hours=6)
    username, user_id = person(org)
    # stored after the first run: one new, one about an earlier moment (the models' delay)
    late = [
        threat.finding(
            "SessionHijackingEventStore", ACME, when, user_id=user_id, username=username,
            source_ip=HIJACKER, score=0.8, summary=f"late {when:%H:%M}", session_key="s2",
        )
        for when in (NOW + timedelta(hours=2), NOW - timedelta(hours=3))
    ]  # fmt: skip
    threat.enable(org, late)
    second = ingest(store, config, run_id="run-2", now=later)
    acme = next(u for u in second.units if u.org_id == ACME)
    assert acme.status == "ok" and acme.result.events_new == 2  # the rest were already stored
    assert count(store, "SELECT count(*) FROM events WHERE event_type = 'threat_detection' "
                 "AND org_id = ?", [ACME]) == 6  # fmt: skip
    windows = store.execute(
        "SELECT payload->>'start', payload->>'end' FROM raw_records "
        "WHERE source_id = 'ingest_window:ThreatDetection' AND org_id = ? ORDER BY 2",
        [ACME],
    ).fetchall()
    assert [w[1][:16] for w in windows] == ["2026-11-29T12:00", "2026-11-29T18:00"]
    assert windows[1][0][:16] == "2026-11-28T12:00"  # the last window's end minus 24 h
    third = ingest(store, config, run_id="run-3", now=later)  # same window: nothing new
    assert next(u for u in third.units if u.org_id == ACME).result.rows_new == 0


def _client(fake: FakeSalesforce, version: str) -> Salesforce:
    session = requests.Session()
    session.verify = str(fake.ca_path)
    session.trust_env = False  # REQUESTS_CA_BUNDLE would replace the fake's CA
    return Salesforce(
        instance_url=fake.url, session_id=fake.session_for(ACME), session=session,
        version=version,
    )  # fmt: skip


def test_the_fake_refuses_what_salesforce_refuses(fake):
    client = _client(fake, "62.0")
    with pytest.raises(SalesforceMalformedRequest, match="INVALID_FIELD"):
        client.query("SELECT Id, SecurityEventData FROM CredentialStuffingEventStore")
    with pytest.raises(SalesforceMalformedRequest, match="INVALID_FIELD"):
        client.query("SELECT Id FROM ReportAnomalyEventStore ORDER BY Uri")
    old = _client(fake, "49.0")  # ApiAnomalyEventStore arrived in API 50.0
    with pytest.raises(SalesforceMalformedRequest, match="INVALID_TYPE"):
        old.query("SELECT Id FROM ApiAnomalyEventStore")
    assert old.query("SELECT Id, Score FROM SessionHijackingEventStore")["totalSize"] == 1


# -- import -------------------------------------------------------------------------------------


def write_export(path: Path, records: list[dict], upper: bool = True) -> Path:
    """A Data Loader export: the queried fields as columns (upper-cased), every value quoted,
    date-times in UTC with a Z as Data Loader writes them."""
    names = [k for k in records[0] if k != "attributes"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow([n.upper() if upper else n for n in names])
        for record in records:
            values = ["" if record.get(n) is None else record[n] for n in names]
            writer.writerow([_zulu(v) for v in values])
    return path


def _zulu(value: object) -> object:
    return value.replace(".000+0000", ".000Z") if isinstance(value, str) else value


def test_exports_are_imported_once_and_never_read_as_logins(store, fake, tmp_path):
    org = fake.org(ACME)
    made = findings(org, NOW)
    paths = [
        write_export(tmp_path / f"{r['attributes']['type']}.csv", [r], upper=i % 2 == 0)
        for i, r in enumerate(made)
    ]
    bad = dict(made[0], EventIdentifier="0a4779b0-0da1-4619-a373-0a36991dff90",
               SourceIp="not-an-ip")  # fmt: skip
    paths.append(write_export(tmp_path / "hijack-bad.csv", [made[0], bad]))
    first = run_import(store, *paths, org=ORG15)
    assert [f.status for f in first.files] == ["ok"] * 4 + ["partial"]
    assert first.totals.events_new == 4 and first.totals.rows_quarantined == 1
    reason = store.execute("SELECT reason FROM quarantine").fetchone()[0]
    assert "SourceIp 'not-an-ip'" in reason and "SessionHijackingEventStore" in reason
    kinds = store.execute(
        "SELECT list(DISTINCT event_type), list(DISTINCT threat_kind ORDER BY threat_kind) "
        "FROM events"
    ).fetchone()
    assert kinds == (
        ["threat_detection"],
        ["api_anomaly", "credential_stuffing", "report_anomaly", "session_hijacking"],
    )  # CredentialStuffingEventStore has LoginEvent's columns, ApiAnomaly ApiEvent's: neither
    second = run_import(store, *paths, org=ORG15, run_id="run-2")
    assert second.totals.rows_new == 0 and second.totals.events_new == 0
    # pipeline health counts the exports toward the org's threat_detection source
    health = pipeline_health(store, now=NOW)
    assert set(health["source"]) == {"threat_detection"}
    assert set(health["org_id"]) == {ACME}


def test_an_import_and_an_ingest_of_one_finding_are_one_event(store, fake, keys, tmp_path):
    made = findings(fake.org(ACME), NOW)
    run_import(store, write_export(tmp_path / "hijack.csv", made[:1]), org=ORG15)
    ingest(store, config_for(fake, keys, tmp_path))
    assert count(store, "SELECT count(*) FROM events WHERE org_id = ?", [ACME]) == 4
    sources = store.execute(
        "SELECT sources FROM events WHERE threat_kind = 'session_hijacking'"
    ).fetchone()[0]
    assert sources == ["soql:SessionHijackingEventStore"]


@pytest.mark.parametrize(
    ("columns", "kind"),
    [
        ({"EventIdentifier", "EventDate", "Score", "CurrentIp"}, "SessionHijackingEventStore"),
        ({"EVENTIDENTIFIER", "EVENTDATE", "SUMMARY", "ACCEPTLANGUAGE", "LOGINTYPE", "LOGINURL"},
         "CredentialStuffingEventStore"),
        ({"EventIdentifier", "EventDate", "Score", "Operation", "QueriedEntities",
          "RowsProcessed"}, "ApiAnomalyEventStore"),
        ({"EventIdentifier", "EventDate", "ReportAnomalyEventNumber"}, "ReportAnomalyEventStore"),
        ({"EventIdentifier", "EventDate", "Operation", "QueriedEntities", "RowsProcessed"},
         "ApiEvent"),
        ({"EventIdentifier", "EventDate", "LoginType", "LoginUrl", "Status"}, "LoginEvent"),
        ({"EventIdentifier", "EventDate", "Score", "Summary"}, None),  # which object? unknown
    ],
)  # fmt: skip
def test_an_export_is_known_by_its_columns(columns, kind):
    assert classify(dict.fromkeys(columns)) == kind
