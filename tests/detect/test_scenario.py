"""A four-org month with every planted attack and every benign trap, through every detector.

Every attack must raise its alert with the right detector and severity; no benign trap, and
nothing in the background traffic, may raise an alert of medium or more.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from detect import runner
from detect.testing import (
    ALLOWED_IP,
    APP,
    ORG,
    OTHER_ORG,
    config,
    event,
    insert_events,
    partner_call,
    refresh,
    token_snapshot,
    ui_login,
)  # fmt: skip
from ingest import db

from ..conftest import FIXED_NOW

ORG_C, ORG_D = "00D5g00000InTeCEAV", "00D5g00000DeLtAEAV"
EGRESS = [ALLOWED_IP, "2001:db8:10::25"]
START = datetime(2026, 11, 1)
LONDON = {"latitude": 51.5074, "longitude": -0.1278, "city": "London", "country_iso": "GB"}
NEW_YORK = {"latitude": 40.7128, "longitude": -74.006, "city": "New York", "country_iso": "US"}
SYDNEY = {"latitude": -33.8688, "longitude": 151.2093, "city": "Sydney", "country_iso": "AU"}
SEVERITY = ["info", "low", "medium", "high", "critical"]


def at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def integration(org: str, user: str) -> list[dict]:
    """Four weeks of refreshes every 30 min, alternating two allowlisted regions, with the
    partner's own log line (a clean rotation chain) for each."""
    rows = []
    for n in range(28 * 48):
        moment = START + timedelta(minutes=30 * n, seconds=7)
        ip = EGRESS[n % 2]
        rows.append(refresh(at(moment), ip, org_id=org, user_id=user, user_agent="Java/17.0.9"))
        rows.append(partner_call(at(moment - timedelta(milliseconds=300)), ip, org_id=org,
                                 user_id=user, token_fp=f"{org}-{user}-{n}",
                                 new_token_fp=f"{org}-{user}-{n + 1}", worker="sync-1"))  # fmt: skip
    return rows


@pytest.fixture(scope="module")
def scenario():
    users = {org: f"0055g0000{org[7:12]}IAA" for org in (ORG, OTHER_ORG, ORG_C, ORG_D)}
    background = [row for org, user in users.items() for row in integration(org, user)]
    human = "0055g00000HumanAAA"
    background += [ui_login(f"2026-11-{d:02d}T08:30:00", "198.51.100.10", org_id=ORG,
                             user_id=human, **LONDON) for d in range(1, 20)]  # fmt: skip
    traps = {
        "london to new york in 8 h": [
            ui_login("2026-11-20T08:00:00", "198.51.100.10", org_id=ORG, user_id=human, **LONDON),
            ui_login("2026-11-20T16:00:00", "198.51.100.12", org_id=ORG, user_id=human, **NEW_YORK),
        ],
        "country centroid next to a city fix": [
            ui_login("2026-11-21T09:00:00", "100.0.0.1", org_id=OTHER_ORG, user_id=human),
            ui_login("2026-11-21T09:10:00", "8.8.8.8", org_id=OTHER_ORG, user_id=human),
        ],
        "RTR race 120 ms apart from one NAT address": [
            partner_call("2026-11-22T10:00:00.000", ALLOWED_IP, org_id=ORG_C, user_id=users[ORG_C],
                         token_fp="race-1", new_token_fp="race-2", worker="sync-1"),
            partner_call("2026-11-22T10:00:00.120", ALLOWED_IP, org_id=ORG_C, user_id=users[ORG_C],
                         token_fp="race-1", new_token_fp="race-2b", worker="sync-2"),
        ],
    }  # fmt: skip
    attacker_user = "0055g00000DormaAAA"
    anomalous = "0055g00000ReporAAA"
    attacks = {
        ("off_allowlist_ip", "high"): [
            refresh("2026-11-25T03:00:00", "198.51.100.66", org_id=ORG, user_id=users[ORG])],
        ("impossible_travel", "high"): [
            ui_login("2026-11-24T09:00:00", "72.229.28.185", org_id=ORG_D, user_id=human, **NEW_YORK),
            ui_login("2026-11-24T10:00:00", "49.255.14.1", org_id=ORG_D, user_id=human, **SYDNEY)],
        ("refresh_token_reuse", "critical"): [
            partner_call("2026-11-23T10:00:00", ALLOWED_IP, org_id=OTHER_ORG, token_fp="stolen-1",
                         new_token_fp="stolen-2", user_id=users[OTHER_ORG]),
            partner_call("2026-11-23T14:00:00", "185.100.87.5", org_id=OTHER_ORG,
                         token_fp="stolen-1", new_token_fp="stolen-3", user_id=users[OTHER_ORG])],
        ("idle_token", "low"): [token_snapshot("2026-10-15T10:00:00", org_id=ORG_C)],
        ("idle_token", "high"): [
            refresh("2026-09-01T09:00:00", ALLOWED_IP, org_id=ORG_C, user_id=attacker_user,
                    app_name="Acme Legacy Sync"),
            refresh("2026-11-26T02:00:00", ALLOWED_IP, org_id=ORG_C, user_id=attacker_user,
                    app_name="Acme Legacy Sync")],
        ("suspicious_client", "critical"): [
            event("2026-11-26T05:00:00", org_id=ORG_D, source_ip="198.51.100.90",
                  event_type="api_request", user_agent="Salesforce-Multi-Org-Fetcher/1.0",
                  user_id=users[ORG_D])],
        ("suspicious_client", "high"): [
            event("2026-11-26T06:00:00", org_id=ORG_D, app_name="My Ticket Portal",
                  grant_type="device", source_ip="198.51.100.91", user_id=human)],
        ("new_network", "medium"): [
            refresh("2026-11-27T02:00:00", "45.83.1.10", org_id=OTHER_ORG, user_id=users[OTHER_ORG]),
            refresh("2026-11-27T03:00:00", "45.83.2.10", org_id=ORG_C, user_id=users[ORG_C]),
            refresh("2026-11-27T04:00:00", "45.83.3.10", org_id=ORG_D, user_id=users[ORG_D])],
        # Alone (nothing else alerts on the user that day) an unusual day is low: issue 8, item 4.
        ("anomaly_score", "low"): [
            refresh(f"2026-11-{d:02d}T{h:02d}:00:00", "198.51.100.50", org_id=ORG_D,
                    user_id=anomalous, app_name="Acme Reports", country_iso="US")
            for d in range(10, 26) for h in range(9, 21)
        ] + [
            refresh(f"2026-11-26T0{n % 5}:{n % 60:02d}:00", f"198.51.100.{100 + n % 30}", org_id=ORG_D,
                    user_id=anomalous, app_name="Acme Reports", country_iso="US")
            for n in range(300)
        ],
    }  # fmt: skip
    con = db.memory()
    insert_events(con, [*background, *(r for rows in traps.values() for r in rows),
                        *(r for rows in attacks.values() for r in rows)], loaded_at=FIXED_NOW)  # fmt: skip
    runner.run(con, config({APP: ("203.0.113.0/28", "2001:db8:10::/48")}), run_id="scenario",
               now=lambda: FIXED_NOW)  # fmt: skip
    alerts = con.execute(
        "SELECT detector_id, severity, event_ids, summary, org_id FROM alerts"
    ).fetchall()
    return attacks, traps, alerts


@pytest.mark.parametrize(
    ("detector", "severity"),
    [("off_allowlist_ip", "high"), ("impossible_travel", "high"),
     ("refresh_token_reuse", "critical"), ("idle_token", "low"), ("idle_token", "high"),
     ("suspicious_client", "critical"), ("suspicious_client", "high"), ("new_network", "medium"),
     ("anomaly_score", "low")],
)  # fmt: skip
def test_every_planted_attack_has_its_alert(scenario, detector, severity):
    attacks, _, alerts = scenario
    planted = {row["event_id"] for row in attacks[(detector, severity)]}
    assert any(d == detector and s == severity and planted & set(ids) for d, s, ids, _, _ in alerts)


def test_a_vendor_compromise_across_three_orgs_is_critical(scenario):
    attacks, _, alerts = scenario
    cross = [a for a in alerts if a[0] == "cross_org"]
    assert len(cross) == 1 and cross[0][1] == "critical"
    planted = {row["event_id"] for row in attacks[("new_network", "medium")]}
    assert planted <= set(cross[0][2])


@pytest.mark.parametrize("trap", ["london to new york in 8 h", "country centroid next to a city fix",
                                  "RTR race 120 ms apart from one NAT address"])  # fmt: skip
def test_no_benign_trap_raises_medium_or_more(scenario, trap):
    _, traps, alerts = scenario
    trap_ids = {row["event_id"] for row in traps[trap]}
    loud = [(d, s, summary) for d, s, ids, summary, _ in alerts
            if trap_ids & set(ids) and SEVERITY.index(s) >= SEVERITY.index("medium")]  # fmt: skip
    assert loud == []


def test_the_race_is_reported_low_with_its_remedy(scenario):
    _, traps, alerts = scenario
    trap_ids = {row["event_id"] for row in traps["RTR race 120 ms apart from one NAT address"]}
    [race] = [a for a in alerts if trap_ids & set(a[2])]
    assert race[0] == "refresh_token_reuse" and race[1] == "low" and "single-flight" in race[3]


def test_background_traffic_raises_nothing_of_medium_or_more(scenario):
    attacks, _, alerts = scenario
    planted = {row["event_id"] for rows in attacks.values() for row in rows}
    loud = [(d, s, summary) for d, s, ids, summary, _ in alerts
            if SEVERITY.index(s) >= SEVERITY.index("medium") and not planted & set(ids)]  # fmt: skip
    assert loud == []
