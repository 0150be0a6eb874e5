"""The threat_detection detector on events built by the real normalizer and loader: severity from
Salesforce's score and policy outcome, incident linking by session with our own alerts, and
hostile text in Salesforce's Summary kept text from the store to the browser."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from detect import runner
from detect.testing import APP, ORG, USER, config
from ingest import db
from ingest.formats.records import normalizer_for
from ingest.load import Loader

from ..conftest import FIXED_NOW

SESSION = "vMASKqv2mnb8fZpG"
OFF_LIST = "198.51.100.9"  # outside detect.testing's allowlist for APP
HIJACKER = "185.220.101.33"
TOKEN = "00D5g000004XyZa!AQ4AQH0dMHZfz972Szy4Zq8QPwbp3I7n1pGJ6rKrB8w_j6xEs0zxWpqQs9H7A0W2uZp"
HOSTILE = (
    "Fingerprint changed [LNK](http://127.0.0.1:9/l) ![i](http://127.0.0.1:9/x.png) **B** "
    ':red[R] <script>alert(1)</script> =HYPERLINK("http://127.0.0.1:9") \u202e)enuineg(\u202c '
    f"z\u200bw session {TOKEN}"
)
APP_PATH = str(Path(__file__).resolve().parents[2] / "dashboard" / "web" / "app.py")


def refresh_login(at: str, ip: str, session: str) -> dict:
    """A refresh-token LoginEvent of the integration user, as the REST API returns it."""
    return {
        "attributes": {"type": "LoginEvent"}, "EventIdentifier": f"le-{at}-{ip}",
        "EventDate": f"{at}.000+0000", "UserId": USER, "Username": "integration@acme.example",
        "SourceIp": ip, "LoginType": "Remote Access 2.0", "LoginSubType": "OAuth Refresh Token",
        "Status": "Success", "Application": APP, "SessionKey": session, "LoginKey": f"lk-{session}",
    }  # fmt: skip


def hijack(at: str, ip: str, session: str, **fields) -> dict:
    record = {
        "attributes": {"type": "SessionHijackingEventStore"}, "Id": f"0Tx{at[-8:-6]}{session}",
        "EventIdentifier": f"sh-{at}-{session}", "EventDate": f"{at}.000+0000", "UserId": USER,
        "Username": "integration@acme.example", "SourceIp": ip, "CurrentIp": ip,
        "PreviousIp": "203.0.113.5", "Score": 0.91, "Summary": "Browser fingerprint changed",
        "SecurityEventData": json.dumps({"changed": ["ip", "userAgent"]}),
        "PolicyOutcome": "NoAction", "SessionKey": session, "LoginKey": f"lk-{session}",
    }  # fmt: skip
    record.update(fields)
    return record


def anomaly(at: str, score: float, outcome: str) -> dict:
    return {
        "attributes": {"type": "ReportAnomalyEventStore"}, "EventIdentifier": f"ra-{at}",
        "EventDate": f"{at}.000+0000", "UserId": USER, "SourceIp": "198.51.100.50",
        "Score": score, "Summary": "Unusual report export", "PolicyOutcome": outcome,
        "Report": "00O5g000000AbCdEAK",
    }  # fmt: skip


def load(con, *records: dict) -> None:
    staged = [normalizer_for(r["attributes"]["type"])(r, ORG, None) for r in records]
    Loader(con, run_id="load-1", now=FIXED_NOW).load_records(staged, origin="test")


def detect(con) -> None:
    summary = runner.run(
        con, config(), run_id="detect-1", now=lambda: FIXED_NOW,
        detector_ids=["off_allowlist_ip", "threat_detection"],
    )  # fmt: skip
    assert not summary.failed, summary


def alerts(con) -> dict[str, list]:
    rows = con.execute(
        """SELECT a.detector_id, a.severity, a.ips, a.summary, a.evidence, m.incident_id, m.link
           FROM alerts a JOIN incident_alerts m USING (alert_id)
           ORDER BY a.first_seen_at, a.detector_id"""
    ).fetchall()
    return {
        "detectors": [r[0] for r in rows], "severities": [r[1] for r in rows],
        "ips": [r[2] for r in rows], "summaries": [r[3] for r in rows],
        "evidence": [json.loads(r[4]) for r in rows], "incidents": [r[5] for r in rows],
        "links": [r[6] for r in rows],
    }  # fmt: skip


def test_a_finding_joins_the_off_allowlist_alert_of_its_session(store):
    # the stolen session's token refreshes off the allowlist; Salesforce then flags the session
    # from another address; an unrelated session of the same user is flagged the same night
    load(
        store,
        refresh_login("2026-11-01T09:00:00", OFF_LIST, SESSION),
        hijack("2026-11-01T09:40:00", HIJACKER, SESSION),
        hijack("2026-11-01T10:30:00", "192.0.2.77", "otherSessionKey1"),
    )
    detect(store)
    found = alerts(store)
    assert found["detectors"] == ["off_allowlist_ip", "threat_detection", "threat_detection"]
    assert found["severities"] == ["high", "high", "high"]
    assert found["ips"][1] == [HIJACKER]  # the hijacker's address, never PreviousIp
    first, joined, apart = found["incidents"]
    assert joined == first and found["links"][1] == f"session:{SESSION}"
    assert apart != first and found["links"][2] == "first"  # another session, no shared key
    evidence = found["evidence"][1]
    assert evidence["salesforce_object"] == "SessionHijackingEventStore"
    assert evidence["summary"] == "Browser fingerprint changed" and evidence["score"] == 0.91
    assert json.loads(evidence["event_data"]) == {"changed": ["ip", "userAgent"]}
    assert evidence["context"]["PreviousIp"] == "203.0.113.5"
    assert (
        "score 0.91" in found["summaries"][1]
        and "integration@acme.example" in (found["summaries"][1])
    )
    incident = store.execute(
        "SELECT alert_count, detectors FROM incidents WHERE incident_id = ?", [first]
    ).fetchone()
    assert incident == (2, ["off_allowlist_ip", "threat_detection"])


def test_severity_follows_score_and_policy_outcome(store):
    load(
        store,
        anomaly("2026-11-02T01:00:00", 95.0, "NoAction"),
        anomaly("2026-11-02T02:00:00", 95.0, "Block"),  # a policy stopped it: one step lower
        anomaly("2026-11-02T03:00:00", 71.0, "Notified"),
        anomaly("2026-11-02T04:00:00", 12.5, "NoAction"),
        hijack("2026-11-02T05:00:00", HIJACKER, "s3", PolicyOutcome="EndSession"),
    )
    detect(store)
    found = alerts(store)
    assert found["severities"] == ["high", "medium", "medium", "low", "medium"]
    reasons = [e["severity_reason"] for e in found["evidence"]]
    assert reasons[1] == "score 95 of 100; one step lower: the policy outcome was Block"
    assert found["evidence"][4]["score_scale"] == "not documented by Salesforce"


def test_hostile_summary_stays_text_from_store_to_browser(tmp_path, monkeypatch):
    path = tmp_path / "store.duckdb"
    with db.connect(path) as con:
        load(con, hijack("2026-11-03T09:00:00", HIJACKER, SESSION, Summary=HOSTILE,
                         SecurityEventData=HOSTILE))  # fmt: skip
        detect(con)
        alert_id, summary, evidence = con.execute(
            "SELECT alert_id, summary, evidence FROM alerts"
        ).fetchone()
        stored = con.execute("SELECT threat_summary, threat_data FROM events").fetchone()
        payload = con.execute("SELECT payload FROM raw_records").fetchone()[0]
    for text in (*stored, summary, evidence, payload):  # the session id never reaches the store
        assert TOKEN not in text and "AQ4AQH0dMHZfz972" not in text
    assert "[LNK](http://127.0.0.1:9/l)" in stored[0]  # kept as Salesforce wrote it, as text
    (tmp_path / "tokensentry.toml").write_text(f'[apps."{APP}"]\nallowlist = ["203.0.113.0/28"]\n')
    monkeypatch.setenv("TOKENSENTRY_DB", str(path))
    monkeypatch.setenv("TOKENSENTRY_CONFIG", str(tmp_path / "tokensentry.toml"))
    app = AppTest.from_file(APP_PATH, default_timeout=60)
    app.run()
    app.query_params.update({"id": alert_id})
    app.switch_page("app_pages/alert.py").run()
    assert not app.exception, [e.message for e in app.exception]
    shown = json.loads(app.get("json")[0].proto.body)
    assert shown["summary"].startswith("Fingerprint changed [LNK](http://127.0.0.1:9/l)")
    assert "⟨U+202E⟩" in shown["summary"] and "⟨U+202E⟩" in shown["event_data"]
    texts = [t.value for t in app.text]
    assert any("Salesforce Threat Detection reported session hijacking" in t for t in texts)
    markdown = [str(e.value) for e in (*app.markdown, *app.caption, *app.title, *app.subheader)]
    # anything of the finding's text in a Markdown element is in a code span, never rendered
    for value in markdown:
        if "LNK" in value or "script" in value:
            assert value.startswith("`"), value
    every = "".join(str(e.proto) for e in (*app.text, *app.markdown, *app.get("json")))
    at = every.find("\u202e")
    assert at < 0, every[max(0, at - 200) : at + 50]
