"""Network owners on the pages: the alert and incident pages list who owns each address they
cite (AS, provider, region, Tor), and every page's footer names the owner data and licence."""

from __future__ import annotations

from ingest import db

from .test_pages import open_page, start

DRIFT_VPS = "208.68.36.90"  # the demo's Drift story: UNC6395's DigitalOcean VPS


def _alert_citing(store, ip: str) -> tuple[str, str]:
    with db.connect(store, read_only=True) as con:
        row = con.execute(
            "SELECT a.alert_id, m.incident_id FROM alerts a JOIN incident_alerts m USING "
            "(alert_id) WHERE list_contains(a.ips, ?) ORDER BY a.alert_id LIMIT 1",
            [ip],
        ).fetchone()
    assert row, f"the demo should hold an alert citing {ip}"
    return row


def _owner_rows(app) -> list[list]:
    tables = [t.value for t in app.table if "owner" in t.value.columns]
    assert tables, "no network owners table"
    return tables[0][["ip", "owner"]].values.tolist()


def test_alert_and_incident_pages_show_who_owns_the_addresses(monkeypatch, store_copy):
    from detect.owners import ATTRIBUTION

    alert_id, incident_id = _alert_citing(store_copy, DRIFT_VPS)
    app = open_page(start(monkeypatch, store_copy), "alert.py", id=alert_id)
    assert ATTRIBUTION in [caption.value for caption in app.caption]
    owned = dict(_owner_rows(app))
    assert "AS14061 DigitalOcean, LLC" in owned[DRIFT_VPS]
    assert "DigitalOcean" in owned[DRIFT_VPS].split(" · ")[1]
    app = open_page(app, "incident.py", id=incident_id)
    assert DRIFT_VPS in dict(_owner_rows(app))
