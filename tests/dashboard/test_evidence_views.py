"""Evidence a person can read (issue 14): each detector's evidence as sentences and tables on the
demo's own alerts, the token chain wherever partner tokens are involved, related alerts only by
a suspect address, a token or the user, an incident's alerts most severe first, and the map's
layers (coastlines, points, the jump) drawn from bundled data."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import queries, world
from dashboard.web import evidence_views
from detect import registry
from detect.testing import ALLOWED_IP, OTHER_ORG, config, insert_events, partner_call
from ingest import db
from tests.dashboard.incident_helpers import T0, group, put_alert

from .test_pages import all_text, open_page, start

ATTACKER = "208.68.36.90"
USER = "0055g00000AbCdEAAV"
SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}

# What each detector's renderer says in words, on the demo's alerts.
SAYS = {
    "chain_rejection": "was issued a refresh token",
    "refresh_token_reuse": "Classified as",
    "impossible_travel": "km/h",
    "off_allowlist_ip": "outside its allowlist",
    "new_network": "learning days before",
    "idle_token": "idle",
    "suspicious_client": "Matched a known attacker",
    "anomaly_score": "days of this app's own history",
    "cross_org": "The same pattern in",
}


def demo_alert(store: Path, detector: str, where: str = "true") -> str:
    with db.connect(store, read_only=True) as con:
        row = con.execute(
            f"SELECT min(alert_id) FROM alerts WHERE detector_id = ? AND {where}", [detector]
        ).fetchone()
    assert row and row[0], f"the demo should raise {detector}"
    return row[0]


def test_every_detector_has_its_own_renderer():
    assert set(registry.by_id()) <= set(evidence_views.RENDERERS)


@pytest.mark.parametrize("detector", sorted(SAYS))
def test_each_detectors_evidence_reads_as_sentences_and_tables(monkeypatch, demo_db, detector):
    app = open_page(start(monkeypatch, demo_db), "alert.py", id=demo_alert(demo_db, detector))
    text = all_text(app)
    assert SAYS[detector] in text, text[:3000]
    # The raw JSON is only the collapsed "as stored" view, never the evidence itself.
    assert len(app.json) == 1
    assert "The evidence as stored (JSON)" in [e.label for e in app.expander]


def test_chain_rejection_says_what_was_ruled_out_and_how(monkeypatch, demo_db):
    alert_id = demo_alert(demo_db, "chain_rejection", "severity = 'critical'")
    app = open_page(start(monkeypatch, demo_db), "alert.py", id=alert_id)
    checks = next(
        t.value for t in app.table if list(t.value.columns) == ["cause", "verdict", "detail"]
    )
    with db.connect(demo_db, read_only=True) as con:
        evidence = json.loads(con.execute("SELECT evidence FROM alerts WHERE alert_id = ?", [alert_id]).fetchone()[0])  # fmt: skip
    assert len(checks) == len(evidence["ruled_out"]) >= 8
    assert set(checks["verdict"]) == {"ruled out"}  # critical: nothing explains it
    assert "the 30-day idle timeout" in set(checks["cause"])
    assert "Nothing else explains the rejection" in all_text(app)
    foreign = next(t.value for t in app.table if list(t.value.columns) == ["at", "ip", "status"])
    assert ATTACKER in set(foreign["ip"])  # the thief's use between issue and rejection


def test_generic_renderer_flattens_an_unknown_detectors_evidence():
    def page() -> None:
        from dashboard.web import evidence_views

        evidence_views.show(
            "a_future_detector",
            {"ip": "192.0.2.1", "why": {"score": 0.5, "seen": ["a", "b"]},
             "hits": [{"at": "t1"}, {"at": "t2"}], "flag": True},
        )  # fmt: skip

    app = AppTest.from_function(page).run()
    assert not app.exception
    shown = app.table[0].value
    assert dict(zip(shown["field"], shown["value"], strict=True)) == {
        "ip": "192.0.2.1", "why.score": "0.5", "why.seen": "a, b", "hits.1.at": "t1",
        "hits.2.at": "t2", "flag": "yes",
    }  # fmt: skip


def test_token_chain_for_every_alert_that_involves_partner_tokens(monkeypatch, demo_db):
    # An off-allowlist use by the partner's new region: its own token calls, not a reuse alert.
    alert_id = demo_alert(demo_db, "off_allowlist_ip", "evidence->>'partner_calls' <> '0'")
    app = open_page(start(monkeypatch, demo_db), "alert.py", id=alert_id)
    assert "Token chain" in [s.value for s in app.subheader]
    chain = next(t.value for t in app.table if "presented" in t.value.columns)
    assert set(chain["outcome"]) <= {"accepted", "refused", "unknown"} and len(chain) >= 1
    # A person's logins from two cities involve no partner token: no chain section at all.
    travel = open_page(app, "alert.py", id=demo_alert(demo_db, "impossible_travel"))
    assert "Token chain" not in [s.value for s in travel.subheader]


def test_incident_alerts_most_severe_first_then_oldest(store):
    put_alert(store, "low-old", ips=[ATTACKER], severity="low", hours=0)
    put_alert(store, "crit-late", ips=[ATTACKER], severity="critical", hours=3)
    put_alert(store, "high-mid", ips=[ATTACKER], severity="high", hours=2)
    put_alert(store, "high-early", ips=[ATTACKER], severity="high", hours=1)
    group(store)
    held = queries.incident_alerts(store, "low-old")
    assert list(held["alert_id"]) == ["crit-late", "high-early", "high-mid", "low-old"]


def test_related_only_by_suspect_ip_token_or_user(store):
    events = [
        partner_call("2026-11-01T09:00:00", ATTACKER, token_fp="fpA", new_token_fp="fpB"),
        partner_call("2026-11-02T10:00:00", "192.0.2.60", token_fp="fpB", new_token_fp="fpC"),
    ]
    insert_events(store, events)
    put_alert(store, "me", ips=[ATTACKER, ALLOWED_IP], user_id=USER,
              event_ids=[events[0]["event_id"]])  # fmt: skip
    put_alert(store, "same-ip", org_id=OTHER_ORG, ips=[ATTACKER], app="Other", hours=50)
    put_alert(store, "same-user", ips=["192.0.2.1"], user_id=USER, app="Other", hours=60)
    put_alert(store, "same-chain", ips=["192.0.2.60"], hours=25, event_ids=[events[1]["event_id"]])
    # The partner's allowlisted egress and the same app prove nothing.
    put_alert(store, "allowlisted-ip", org_id=OTHER_ORG, ips=[ALLOWED_IP], hours=70)
    put_alert(store, "same-app", org_id=OTHER_ORG, ips=["192.0.2.2"], hours=80)
    related = queries.related(store, "alert", "me", config(), T0 + timedelta(days=5))
    found = related.set_index("alert_id")[["relation", "shared"]].to_dict("index")
    assert found == {
        "same-ip": {"relation": "same IP", "shared": ATTACKER},
        "same-chain": {"relation": "same token chain", "shared": ""},
        "same-user": {"relation": "same user", "shared": USER},
    }
    assert list(related["alert_id"]) == ["same-ip", "same-chain", "same-user"]  # IP ties first
    group(store)
    incident = queries.incident_of(store, "me")
    members = set(queries.incident_alerts(store, incident)["alert_id"])
    around = queries.related(store, "incident", incident, config(), T0 + timedelta(days=5))
    assert not members & set(around["alert_id"])  # an incident's own alerts are not "related"
    assert {"allowlisted-ip", "same-app"}.isdisjoint(set(around["alert_id"]) | members)


def test_jumps_use_the_time_between_stays_not_per_address_spans():
    import pandas as pd

    at = pd.Timestamp("2026-11-30 00:40")
    stays = pd.DataFrame(
        {
            "ip": ["67.180.10.5", "86.12.40.5", "67.180.10.5"],
            "country": ["US", "GB", "US"],
            "city": ["Palo Alto", "Clapham", "Palo Alto"],
            "latitude": [37.44, 51.46, 37.44],
            "longitude": [-122.15, -0.14, -122.15],
            "first_seen": [at, at + timedelta(minutes=45), at + timedelta(hours=17)],
            "last_seen": [at, at + timedelta(minutes=45), at + timedelta(hours=17)],
        }
    )
    jumps = queries.travel_jumps(stays)
    first = jumps.iloc[0]
    assert (first["minutes"], round(first["distance_km"], -2)) == (45.0, 8600.0)
    assert first["speed_kmh"] > 11_000


def test_the_map_draws_coastlines_points_and_the_jump(monkeypatch, demo_db):
    app = open_page(
        start(monkeypatch, demo_db), "alert.py", id=demo_alert(demo_db, "impossible_travel")
    )
    (chart,) = [c for c in app.get("vega_lite_chart") if "equalEarth" in c.proto.spec]
    spec = json.loads(chart.proto.spec)
    marks = [layer["mark"]["type"] for layer in spec["layer"]]
    assert marks[0] == "line" and "rule" in marks and "circle" in marks
    circle = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "circle")
    assert circle["mark"]["size"] >= 200 and circle["mark"]["stroke"] == "white"
    assert "url" not in json.dumps(spec["layer"])  # every layer's data is inline, none fetched
    sizes = sorted(len(d.data.data) for d in chart.proto.datasets)
    assert sizes[-1] > 20_000  # the coastlines travel with the chart
    jumps = next(t.value for t in app.table if "speed_kmh" in t.value.columns)
    assert float(jumps["speed_kmh"].iloc[0]) > 900  # the jump the detector flagged, with its speed


def test_the_bundled_outline_covers_the_continents():
    outline = world.outline_frame()
    assert outline["line"].nunique() > 100 and len(outline) > 5000
    assert outline["lon"].between(-180, 180).all() and outline["lat"].between(-90, 90).all()
    licence = Path(world.__file__).parent / "data" / "NATURAL_EARTH.md"
    assert "public domain" in licence.read_text()
