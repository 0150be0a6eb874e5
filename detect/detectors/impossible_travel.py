"""A person's consecutive logins from places no airliner could connect in the time between them.

Why it matters: a stolen session, password or OAuth grant used from another continent minutes
after the owner logged in. It covers every interactive login: UI, SAML and other SSO (their
logins carry no OAuth sub-type, so they are recognised by `interactive_login_types`), OAuth
web-server and user-agent flows; refresh-token, JWT and client-credentials exchanges are
machines whose egress moves between cloud regions by design, and `new_network` watches those.

Distances are cut by both places' accuracy radii, `max(0, d - r1 - r2)`, so an imprecise fix
cannot fake a jump. A fix without a radius (Salesforce's LoginGeo for an address the GeoIP
database does not know) is as good as a country: `unknown_radius_km`. Pairs where either radius
is at least `max_radius_km` (country centroids), the same IP, or an IP inside an app's allowlist
or `known_egress` are skipped: the partner's egress is where its servers are (they exchange the
web-server flow's code), not the person.

A login that arrives late (hourly ELF lands 3-6 h after the fact) is paired both with the login
before it and with the one stored after it: a scan judges every pair with either end in scope.

Blind spots: logins without a usable location (private or Salesforce-hidden IPs, addresses
missing from the database, which Salesforce alone places); VPN and proxy exits near the user's
real place; travel by a user who logs in from two devices through one far-away corporate VPN.
"""

from __future__ import annotations

import math
from dataclasses import replace

from ..detector import Context, Detector, Example, Finding
from ..geo import Place, haversine_km
from ..testing import ALLOWED_IP, HUMAN, event, refresh, web_login

INTERACTIVE = """e.event_type = 'login' AND coalesce(e.is_success, false)
    AND (list_contains(?, e.grant_type)
         OR (e.grant_type IS NULL AND regexp_matches(coalesce(e.login_type, ''), ?)))"""

PAIRS_SQL = f"""
WITH touched AS (
    SELECT DISTINCT org_id, user_id FROM events e
    WHERE {{scope}} AND {INTERACTIVE} AND e.user_id IS NOT NULL
),
logins AS (
    SELECT e.event_id, e.org_id, e.user_id, e.occurred_at, e.updated_at, e.source_ip,
           e.latitude, e.longitude, e.country_iso, e.city, e.app_name
    FROM events e SEMI JOIN touched t ON t.org_id = e.org_id AND t.user_id = e.user_id
    WHERE {INTERACTIVE} AND e.source_ip IS NOT NULL
),
pairs AS (
    SELECT *,
        lag(event_id) OVER w AS prev_event_id, lag(occurred_at) OVER w AS prev_at,
        lag(source_ip) OVER w AS prev_ip, lag(latitude) OVER w AS prev_latitude,
        lag(longitude) OVER w AS prev_longitude, lag(country_iso) OVER w AS prev_country,
        lag(city) OVER w AS prev_city,
        -- the earlier login's own scope columns, so `{{prev_scope}}` can read prev.updated_at
        lag({{{{'occurred_at': occurred_at, 'updated_at': updated_at}}}}) OVER w AS prev
    FROM logins
    WINDOW w AS (PARTITION BY org_id, user_id ORDER BY occurred_at, event_id)
)
SELECT * EXCLUDE (prev) FROM pairs e
WHERE prev_ip IS NOT NULL AND prev_ip <> source_ip
  AND occurred_at - prev_at <= to_hours(CAST(? AS BIGINT)) AND ({{scope}} OR {{prev_scope}})
ORDER BY occurred_at
"""


def find(ctx: Context) -> list[Finding]:
    s = ctx.settings
    interactive = [list(s["interactive_grant_types"]), s["interactive_login_types"]]
    rows = ctx.rows(
        PAIRS_SQL.format(scope=ctx.scope_sql(), prev_scope=ctx.scope_sql("prev")),
        [*interactive, *interactive, s["max_gap_hours"]],
    )
    if not rows:
        return []
    geo = ctx.geo()
    infrastructure = [
        net for app in ctx.config.apps.values() for net in (app.allowlist, app.known_egress) if net
    ]
    findings = []
    for row in rows:
        ip1, ip2 = row["prev_ip"], row["source_ip"]
        if any(ip1 in net or ip2 in net for net in infrastructure) or (
            ctx.known_egress.covers(ip1) or ctx.known_egress.covers(ip2)
        ):
            continue  # an egress of the partner's servers says nothing about where a person is
        here = geo.place(
            ip1, row["prev_latitude"], row["prev_longitude"], row["prev_country"], row["prev_city"]
        )
        there = geo.place(ip2, row["latitude"], row["longitude"], row["country_iso"], row["city"])
        if here is None or there is None:
            continue
        here, there = _sized(here, s), _sized(there, s)
        if max(here.accuracy_km, there.accuracy_km) >= s["max_radius_km"]:
            continue  # a country centroid is not a place
        distance = haversine_km(here.latitude, here.longitude, there.latitude, there.longitude)
        effective = max(0.0, distance - here.accuracy_km - there.accuracy_km)
        if effective < s["min_km"]:
            continue
        hours = (row["occurred_at"] - row["prev_at"]).total_seconds() / 3600
        speed = effective / hours if hours > 0 else math.inf
        if speed <= s["max_kmh"]:
            continue
        findings.append(_finding(ctx, row, here, there, distance, effective, hours, speed))
    return findings


def _sized(place: Place, s) -> Place:  # type: ignore[no-untyped-def]
    """A fix without an accuracy radius claims nothing finer than a country."""
    if place.accuracy_km > 0:
        return place
    return replace(place, accuracy_km=float(s["unknown_radius_km"]))


def _where(place, ip: str) -> str:
    name = ", ".join(p for p in (place.city, place.country_iso) if p) or "an unnamed place"
    return f"{name} ({ip})"


def _finding(ctx, row, here, there, distance, effective, hours, speed) -> Finding:  # type: ignore[no-untyped-def]
    minutes = hours * 60
    gap = f"{minutes:.0f} min" if minutes < 120 else f"{hours:.1f} h"
    speed_text = "at once" if math.isinf(speed) else f"{speed:,.0f} km/h"
    return Finding(
        dedup_key=f"{row['org_id']}|{row['user_id']}|{row['prev_ip']}|{row['source_ip']}|"
        f"{row['occurred_at']:%Y-%m-%d}",
        summary=(
            f"{ctx.org_label(row['org_id'])}: user {row['user_id']} logged in from "
            f"{_where(here, row['prev_ip'])} then {_where(there, row['source_ip'])}, "
            f"{effective:,.0f} km apart (after accuracy) in {gap}: {speed_text}, over the "
            f"{ctx.settings['max_kmh']} km/h limit."
        ),
        first_seen_at=row["prev_at"],
        last_seen_at=row["occurred_at"],
        event_ids=[row["prev_event_id"], row["event_id"]],
        evidence={
            "from": {
                "ip": row["prev_ip"],
                "lat": here.latitude,
                "lon": here.longitude,
                "accuracy_km": here.accuracy_km,
                "country": here.country_iso,
                "city": here.city,
            },
            "to": {
                "ip": row["source_ip"],
                "lat": there.latitude,
                "lon": there.longitude,
                "accuracy_km": there.accuracy_km,
                "country": there.country_iso,
                "city": there.city,
            },
            "distance_km": round(distance, 1),
            "effective_km": round(effective, 1),
            "hours": round(hours, 3),
            "speed_kmh": None if math.isinf(speed) else round(speed, 1),
        },
        org_id=row["org_id"],
        app_name=row["app_name"],
        user_id=row["user_id"],
        ips=sorted({row["prev_ip"], row["source_ip"]}),
    )


# Addresses the bundled database places within a few km (Salesforce's LoginGeo has no radius).
NY_IP, SYDNEY_IP, LONDON_IP = "72.229.28.185", "49.255.14.1", "86.1.1.1"
NEW_YORK = {"latitude": 40.7128, "longitude": -74.006, "city": "New York", "country_iso": "US"}
SYDNEY = {"latitude": -33.8688, "longitude": 151.2093, "city": "Sydney", "country_iso": "AU"}
LONDON = {"latitude": 51.5074, "longitude": -0.1278, "city": "London", "country_iso": "GB"}
ASHBURN = {"latitude": 39.0438, "longitude": -77.4874, "city": "Ashburn", "country_iso": "US"}
DUBLIN = {"latitude": 53.3498, "longitude": -6.2603, "city": "Dublin", "country_iso": "IE"}

EXAMPLES = [
    Example(
        "Ana logs in from New York at 09:00 and from Sydney at 10:00",
        [
            web_login("2026-05-01T09:00:00", NY_IP, **NEW_YORK),
            web_login("2026-05-01T10:00:00", SYDNEY_IP, **SYDNEY),
        ],
        expect=1,
        severity="high",
    ),
    Example(
        "a SAML single sign-on in London, then the same person's UI login in Sydney an hour later",
        [
            event(
                "2026-05-01T09:00:00",
                source_ip=LONDON_IP,
                user_id=HUMAN,
                app_name=None,
                login_type="SAML Sfdc Initiated SSO",
                grant_type=None,
                **LONDON,
            ),
            web_login(
                "2026-05-01T10:00:00",
                SYDNEY_IP,
                grant_type="ui",
                login_type="Application",
                **SYDNEY,
            ),
        ],
        expect=1,
    ),
    Example(
        "Salesforce's fixes for addresses no database knows are no evidence of a jump",
        [
            web_login("2026-05-01T09:00:00", "198.51.100.10", **NEW_YORK),
            web_login("2026-05-01T10:00:00", "198.51.100.99", **SYDNEY),
        ],
        expect=0,
    ),
    Example(
        "a flight London to New York in 8 hours is possible",
        [
            web_login("2026-05-01T08:00:00", LONDON_IP, **LONDON),
            web_login("2026-05-01T16:00:00", NY_IP, **NEW_YORK),
        ],
        expect=0,
    ),
    Example(
        "an integration refreshing from two allowlisted regions is not travel",
        [
            refresh("2026-05-01T09:00:00", ALLOWED_IP, **ASHBURN),
            refresh("2026-05-01T09:05:00", "203.0.113.6", **DUBLIN),
        ],
        expect=0,
    ),
    Example(
        "a country-centroid fix (8.8.8.8, radius 1,000 km) next to a city fix is no evidence",
        [
            web_login("2026-05-01T09:00:00", "100.0.0.1", user_id=HUMAN),
            web_login("2026-05-01T09:10:00", "8.8.8.8", user_id=HUMAN),
        ],
        expect=0,
    ),
    Example(
        "the same IP twice is never travel",
        [
            web_login("2026-05-01T09:00:00", NY_IP, **NEW_YORK),
            web_login("2026-05-01T09:01:00", NY_IP, **SYDNEY),
        ],
        expect=0,
    ),
    Example(
        "IPv6 and IPv4 fixes from the database, no Salesforce geo: Tewksbury MA then Ireland",
        [
            web_login("2026-05-01T09:00:00", "100.0.0.1"),
            web_login("2026-05-01T09:20:00", "2a03:2880::1"),
        ],
        expect=1,
    ),
]

DETECTOR = Detector(
    id="impossible_travel",
    title="Impossible travel between a person's logins",
    severity="high",
    description=__doc__ or "",
    find=find,
    examples=EXAMPLES,
    runbook="""\
1. Read both places, their accuracy radii and the time between the logins in the evidence.
2. Ask whether the user runs a VPN, a proxy or a second device whose egress is far away; if so,
   add that egress to `known_egress` of the app and mark the alert false_positive.
3. Otherwise treat the later login as stolen credentials: freeze the user, reset the password,
   revoke the user's sessions and OAuth tokens (Setup > Users > OAuth Connected Apps).
4. Review what the later session did (ApiTotalUsage, RestApi, BulkApi2 ELF; Setup Audit Trail).
""",
    settings={
        "max_kmh": 900,  # an airliner's cruising speed
        "min_km": 500,
        "max_radius_km": 500,  # at or above, the fix is a country centroid, not a place
        "unknown_radius_km": 1000,  # a fix with no radius: as vague as MaxMind's US centroid
        "max_gap_hours": 24,
        "interactive_grant_types": [
            "authorization_code",
            "user_agent",
            "ui",
            "ui_password",
            "password",
            "otp",
            "device",
        ],
        # Login types of people signing in without an OAuth sub-type: UI, SAML and other SSO,
        # portals and communities (LoginHistory labels, ELF codes decoded).
        "interactive_login_types": "(?i)^(application|.*sso.*|.*saml.*|lightning login|"
        "passwordless login|certificate-based login|.*portal.*|.*communit.*|selfservice)$",
    },
    attack=("T1078.004",),  # Valid Accounts: Cloud Accounts
    needs="successful interactive logins with a location (LoginHistory + LoginGeo, LoginEvent, "
    "or an IP the GeoIP database knows)",
)
