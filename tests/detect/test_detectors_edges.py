"""Edge cases every detector must survive, and the specific guarantees of some."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from detect import registry
from detect.detector import Context
from detect.detectors import anomaly_score
from detect.geo import Locator, haversine_km, network_of
from detect.testing import ALLOWED_IP, config, insert_events, partner_call, refresh, web_login
from ingest import db
from ingest.config import GeoIpConfig

from ..conftest import FIXED_NOW

DETECTORS = registry.all_detectors()


def context(con, detector, **settings) -> Context:
    return Context(con=con, config=config(), settings=registry.settings_for(detector, settings),
                   now=FIXED_NOW)  # fmt: skip


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: d.id)
def test_empty_history_raises_nothing(detector):
    con = db.memory()
    assert detector.find(context(con, detector)) == []


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: d.id)
def test_unknown_geo_ipv6_and_same_millisecond_events_do_not_break(detector):
    con = db.memory()
    insert_events(con, [
        web_login("2026-11-20T09:00:00.123", "2001:db8:ffff::1"),
        web_login("2026-11-20T09:00:00.123", "10.0.0.1"),
        refresh("2026-11-20T09:00:00.123", "2001:db8:10::25"),
        refresh("2026-11-20T09:00:00.123", "Salesforce.com IP"),
        partner_call("2026-11-20T09:00:00.123", "2001:db8:abcd::7", token_fp="a", new_token_fp="b"),
        partner_call("2026-11-20T09:00:00.123", "2001:db8:abcd::7", token_fp="a", new_token_fp="c"),
    ])  # fmt: skip
    for finding in detector.find(context(con, detector)):
        assert finding.first_seen_at <= finding.last_seen_at


def test_time_is_utc_with_no_daylight_saving_gap():
    """03:30 on the day Europe springs forward exists in UTC; travel speed uses real hours."""
    con = db.memory()
    detector = registry.by_id()["impossible_travel"]
    insert_events(con, [
        web_login("2026-03-29T00:30:00", "86.1.1.1", latitude=51.5, longitude=-0.13),
        web_login("2026-03-29T03:30:00", "72.229.28.185", latitude=40.71, longitude=-74.0),
    ])  # fmt: skip
    [finding] = detector.find(context(con, detector))
    assert finding.evidence["hours"] == 3.0


def test_planted_outlier_ranks_first_and_no_score_is_asserted_exactly():
    con = db.memory()
    insert_events(con, [*anomaly_score._history(12), *anomaly_score._outlier_day()])
    detector = registry.by_id()["anomaly_score"]
    ranked = anomaly_score.score_days(context(con, detector))
    top = ranked.iloc[0]
    assert (top["user_id"], str(top["day"])[:10]) == ("0055g00000User1AAA", "2026-11-12")
    assert ranked.iloc[0]["score"] < ranked.iloc[1]["score"]


def test_flat_history_scores_nobody_as_anomalous():
    con = db.memory()
    insert_events(con, anomaly_score._history(12))
    detector = registry.by_id()["anomaly_score"]
    ranked = anomaly_score.score_days(context(con, detector))
    assert len(ranked) == 72 and not (ranked["score"] < -0.05).any()


def test_refresh_reuse_race_repeats_become_low_never_medium():
    """The partner's own concurrency is a bug to fix, not an attack: below medium (issue 8)."""
    con = db.memory()
    rows = []
    for n in range(3):
        at = datetime(2026, 11, 20, 9) + timedelta(hours=n)
        rows += [partner_call(f"{at:%Y-%m-%dT%H:%M:%S}.000", ALLOWED_IP, token_fp=f"g{n}",
                              new_token_fp=f"g{n}x", worker="w1"),
                 partner_call(f"{at:%Y-%m-%dT%H:%M:%S}.090", ALLOWED_IP, token_fp=f"g{n}",
                              new_token_fp=f"g{n}y", worker="w2")]  # fmt: skip
    insert_events(con, rows)
    detector = registry.by_id()["refresh_token_reuse"]
    findings = detector.find(context(con, detector))
    assert len(findings) == 3 and {f.severity for f in findings} == {"low"}
    assert all(f.evidence["repeated_races"] for f in findings)


def test_geo_against_maxmind_test_databases(realworld):
    maxmind = realworld / "maxmind"
    locator = Locator(maxmind / "GeoIP2-City-Test.mmdb", maxmind / "GeoLite2-ASN-Test.mmdb")
    london = locator.lookup("81.2.69.142")
    assert (london.city, london.country_iso, london.latitude, london.accuracy_km) == (
        "London", "GB", 51.5142, 10.0,
    )  # fmt: skip
    linkoping = locator.lookup("89.160.20.112")
    assert (linkoping.asn, linkoping.as_org) == (29518, "Bredband2 AB")
    assert locator.lookup("67.43.156.1").accuracy_km >= 500  # a country-level fix (Bhutan)
    assert locator.lookup("198.51.100.1") is None and locator.lookup("Salesforce.com IP") is None


def test_bundled_database_has_country_centroids_and_cities():
    locator = Locator()
    assert locator.lookup("8.8.8.8").accuracy_km >= 500
    assert locator.lookup("100.0.0.1").accuracy_km < 50


def test_config_overrides_the_city_database(realworld: Path):
    from detect.geo import locator_for

    city = realworld / "maxmind" / "GeoLite2-City-Test.mmdb"
    assert locator_for(GeoIpConfig(city_db=city)).city_path == city


def test_geometry_helpers():
    assert round(haversine_km(51.5074, -0.1278, 40.7128, -74.006)) == 5570
    assert network_of("203.0.113.77") == "203.0.113.0/24"
    assert network_of("2001:db8:10:1::5") == "2001:db8:10::/48"
    assert network_of("Salesforce.com IP") is None
