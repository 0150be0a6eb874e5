"""The blast radius on the incident page (Streamlit AppTest) and in the evidence pack, from a
store built through the real importer (tests/detect/test_data_exfiltration.py)."""

from __future__ import annotations

import pytest

from dashboard import evidence_pack
from dashboard.queries.blast_radius import NO_LOGS
from detect.testing import ORG
from ingest import db

from ..detect.test_data_exfiltration import build_store
from .test_pages import all_text, open_page, start


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("blast"))


def test_the_incident_page_shows_what_the_incident_read(monkeypatch, store):
    with db.connect(store, read_only=True) as con:
        [(incident,)] = con.execute(
            "SELECT DISTINCT m.incident_id FROM incident_alerts m JOIN alerts a USING (alert_id) "
            "WHERE a.detector_id = 'data_exfiltration'"
        ).fetchall()
    app = open_page(start(monkeypatch, store), "incident.py", id=incident)
    text = all_text(app)
    assert "Blast radius" in [s.value for s in app.subheader]
    assert "Blast radius: 102,000 rows read (Case 60,000, Opportunity 42,000)" in text
    assert "Opportunity" in text and "thiefkey" in text and ORG in text


def test_the_evidence_pack_section_keeps_log_strings_inert():
    blast = {
        "window": {"start": "2026-11-20T02:00Z", "end": "2026-11-21T03:09Z"},
        "sessions": ["thiefkey"], "addresses": ["198.51.100.7"], "rows_total": 5,
        "orgs": [
            {"org_id": ORG, "covered": True, "coverage": "RestApi on 1 of 2 day(s)", "rows": 5,
             "objects": [{"object": "[x](https://evil.example)|Case", "rows": 5, "jobs": 0,
                          "first_minute": "2026-11-20T03:00Z",
                          "last_minute": "2026-11-20T03:01Z"}]},
            {"org_id": "00D5g000007PqRsEAK", "covered": False, "coverage": NO_LOGS, "rows": 0,
             "objects": []},
        ],
    }  # fmt: skip
    section = evidence_pack.blast_section(blast, {ORG: "acme-prod"})
    assert section.startswith("## Blast radius")
    assert f"| `00D5g000007PqRsEAK` | {NO_LOGS} |" in section
    assert "](https://evil.example)" not in section.replace("`[x](https", "")  # code span only
    assert "`[x](https://evil.example)|Case`" not in section  # the pipe cannot break the row
