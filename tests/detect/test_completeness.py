"""Item 5 of issue 8: what the detectors missed or misjudged on the original code.

Each test runs the real detector through the runner against an in-memory store.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from detect import runner
from detect.testing import ALLOWED_IP, HUMAN, config, event, insert_events, refresh, web_login
from ingest import db

NEW_YORK = {"latitude": 40.7128, "longitude": -74.006, "city": "New York", "country_iso": "US"}
SYDNEY = {"latitude": -33.8688, "longitude": 151.2093, "city": "Sydney", "country_iso": "AU"}
NY_IP, SYDNEY_IP = "72.229.28.185", "49.255.14.1"  # city-level fixes in the bundled database
T0 = datetime(2026, 11, 29)


def detect(con, detector: str, at: datetime = T0, **kwargs) -> list[tuple]:
    runner.run(con, config(), run_id=f"r{at:%H%M%S}", now=lambda: at, detector_ids=[detector],
               **kwargs)  # fmt: skip
    return con.execute(
        "SELECT severity, summary, event_ids FROM alerts WHERE detector_id = ? "
        "ORDER BY first_seen_at",
        [detector],
    ).fetchall()


def saml(at: str, ip: str, **geo) -> dict:
    """A SAML SSO login as the Login ELF decodes it: no OAuth sub-type, hence no grant."""
    return event(at, source_ip=ip, user_id=HUMAN, app_name=None, grant_type=None,
                 login_type="SAML Idp Initiated SSO", login_sub_type=None, **geo)  # fmt: skip


def test_impossible_travel_covers_saml_single_sign_on():
    con = db.memory()
    insert_events(con, [saml("2026-11-20T09:00:00", NY_IP, **NEW_YORK),
                        saml("2026-11-20T10:00:00", SYDNEY_IP, **SYDNEY)])  # fmt: skip
    [(severity, summary, _)] = detect(con, "impossible_travel", rescan_all=True)
    assert severity == "high" and "Sydney" in summary


def test_impossible_travel_pairs_a_late_login_with_the_one_stored_after_it():
    con = db.memory()
    later = web_login("2026-11-20T10:00:00", NY_IP, **NEW_YORK)
    insert_events(con, [later], loaded_at=T0 - timedelta(hours=6))
    assert detect(con, "impossible_travel", T0 - timedelta(hours=5)) == []
    # An hourly ELF file lands hours late with a login that happened before the stored one.
    late = web_login("2026-11-20T09:30:00", SYDNEY_IP, **SYDNEY)
    insert_events(con, [late], loaded_at=T0 - timedelta(hours=1))
    [(severity, _, event_ids)] = detect(con, "impossible_travel", T0)
    assert severity == "high" and set(event_ids) == {late["event_id"], later["event_id"]}


def test_a_fix_without_accuracy_radius_is_country_sized():
    """Salesforce places a carrier address at a city with no radius; the office, also placed
    without a radius, is 1,100 km away ten minutes later. Neither fix claims that precision, so there is no evidence of travel."""
    con = db.memory()
    insert_events(con, [
        web_login("2026-11-20T09:00:00", "198.51.100.30", latitude=41.88, longitude=-87.63,
                  city="Chicago", country_iso="US"),
        web_login("2026-11-20T09:10:00", "198.51.100.31", **NEW_YORK),
    ])  # fmt: skip
    assert detect(con, "impossible_travel", rescan_all=True) == []


def _integration(days: int) -> list[dict]:
    start = datetime(2026, 10, 1)
    return [refresh(f"{start + timedelta(hours=6 * n):%Y-%m-%dT%H:%M:%S}", ALLOWED_IP)
            for n in range(days * 4)]  # fmt: skip


def test_new_network_alerts_again_when_an_alerted_network_returns_after_quiet_days():
    con = db.memory()
    insert_events(con, [*_integration(40), refresh("2026-10-20T03:00:00", "45.83.1.10"),
                        refresh("2026-11-05T03:00:00", "45.83.1.11")])  # fmt: skip
    alerts = detect(con, "new_network", rescan_all=True)
    assert [a[0] for a in alerts] == ["medium", "medium"]
    assert "returned" in alerts[1][1] and "2026-10-20" in alerts[1][1]


def test_new_network_does_not_realert_inside_the_quiet_period():
    con = db.memory()
    insert_events(con, [*_integration(40), refresh("2026-10-20T03:00:00", "45.83.1.10"),
                        refresh("2026-10-24T03:00:00", "45.83.1.11")])  # fmt: skip
    assert len(detect(con, "new_network", rescan_all=True)) == 1


def test_suspicious_client_baseline_excludes_the_day_being_judged():
    """A stolen token driven by python-requests 60 times in one night must not become the
    app's own baseline agent (the original counted the attack itself as history)."""
    con = db.memory()
    insert_events(con, [
        *(refresh(f"2026-11-0{d}T{h:02d}:00:00", ALLOWED_IP, user_agent="Java/17.0.9")
          for d in (1, 2) for h in range(0, 24, 4)),
        *(refresh(f"2026-11-03T02:{m:02d}:00", "198.51.100.9", user_agent="python-requests/2.32.4")
          for m in range(60)),
    ])  # fmt: skip
    [(severity, summary, _)] = detect(con, "suspicious_client", rescan_all=True)
    assert severity == "medium" and "python-requests" in summary


def test_salesforce_own_data_loader_apps_are_not_look_alikes():
    con = db.memory()
    insert_events(con, [
        event("2026-11-20T09:00:00", app_name="Dataloader Partner", grant_type="password",
              user_id=HUMAN, user_agent="DataLoaderUI/64.0.2"),
        event("2026-11-20T09:30:00", app_name="Dataloader Bulk", grant_type="password",
              user_id=HUMAN, user_agent="DataLoaderBatch/64.0.2"),
        event("2026-11-20T10:00:00", app_name="Data Loader Portal", grant_type="device",
              user_id=HUMAN),
    ])  # fmt: skip
    [(severity, summary, _)] = detect(con, "suspicious_client", rescan_all=True)
    assert severity == "high" and "Data Loader Portal" in summary
