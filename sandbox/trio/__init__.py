"""Three subscriber orgs for the live ingest tests, in the world model (`sandbox.model`).

Three subscriber orgs use the partner's ECA "Acme Sync" for three weeks: each org's integration
user refreshes its token every 15-60 minutes from the partner's allowlisted egress (two
regions, IPv4 and IPv6), people log in to Salesforce from their offices and now and then
connect the app through the OAuth web-server flow. Planted among them (`ATTACKS`):

- acme-prod: a stolen refresh token used successfully from a DigitalOcean VPS (208.68.36.90,
  published Drift IOC) for an hour.
- globex-prod: refresh attempts from a Tor exit (185.220.101.33) that the allowlist blocked.
- initech-prod: a partner worker in a new region (192.0.2.77) refreshing before its egress was
  added to the allowlist.

Rendered by the shared writers (`sandbox.render`): LoginHistory records (with LoginGeo) for
every org, and for acme-prod (Event Monitoring) Login event log file rows and LoginEvent
records too, so its logins appear twice and must merge; one OauthToken snapshot per org. The
fake Salesforce serves them (`sandbox.fakesf.fleet.demo_orgs`). A pure function of (`now`,
`seed`), so tests can assert on it.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from ingest.sfid import to18

from .. import render
from ..model import Login, Org, Person, Place, Token
from ..salesforce import stable_id

APP = "Acme Sync"
APP_ID = to18("0H45g000000AcMe")
CONSUMER_KEY = "3MVG9demoAcmeSyncConsumerKey000000000000000000000000000000000000000"
ALLOWLIST = ["203.0.113.0/28", "2001:db8:10::/122"]
EGRESS = (  # us-east and eu-west NAT gateways
    Place("203.0.113.4", "US", "Ashburn", 39.0438, -77.4874, 1000),
    Place("203.0.113.5", "IE", "Dublin", 53.3498, -6.2603, 200),
    Place("2001:db8:10::25", "IE", "Dublin", 53.3498, -6.2603, 200),
)
DAYS = 21  # longer than new_network's 14-day learning period
INTEGRATION_AGENT = "Java/17.0.9"
BROWSER_AGENT = "Mozilla/5.0 (Macintosh) Chrome/131.0"
ATTACKER_AGENT = "python-requests/2.32.4"


def _person(user15: str, alias: str, office: Place) -> Person:
    return Person(alias, to18(user15), office, office, office)


def _office(ip: str, country: str, city: str, lat: float, lon: float) -> Place:
    return Place(ip, country, city, lat, lon, 10)


NEW_YORK = ("US", "New York", 40.71, -74.0)
ORGS = (
    Org("acme-prod", to18("00D5g000004XyZa"), "subscriber", "api", to18("0055g00000IntAc"),
        (_person("0055g00000AnaSi", "ana.silva", _office("198.51.100.10", *NEW_YORK)),
         _person("0055g00000BenLe", "ben.lee", _office("198.51.100.11", *NEW_YORK))),
        event_monitoring=True, login_event=True),
    Org("globex-prod", to18("00D5g000007PqRs"), "subscriber", "api", to18("0055g00000IntGl"),
        (_person("0055g00000Carla", "carla.marin",
                 _office("198.51.100.40", "ES", "Madrid", 40.42, -3.7)),
         _person("0055g00000DevPa", "dev.patel",
                 _office("198.51.100.41", "GB", "London", 51.51, -0.13))),
        time_zone="Europe/Madrid"),
    Org("initech-prod", to18("00D5g00000InTeC"), "subscriber", "api", to18("0055g00000IntIn"),
        (_person("0055g00000EveKi", "eve.kim",
                 _office("198.51.100.70", "US", "Austin", 30.27, -97.74)),),
        time_zone="America/Chicago"),
)  # fmt: skip

ATTACKS = {  # alias → (where from, days before now, succeeded)
    "acme-prod": (Place("208.68.36.90", "US", "North Bergen", 40.79, -74.02, 1000), 2, True),
    "globex-prod": (Place("185.220.101.33", "DE", "Frankfurt", 50.11, 8.68, 200), 1, False),
    "initech-prod": (Place("192.0.2.77", "SG", "Singapore", 1.29, 103.85, 50), 3, True),
}


def _login(org: Org, at: datetime, who: str, place: Place, sub_type: str, **extra) -> Login:
    """A login of the integration user (`who` == "integration") or of a person."""
    user_id = org.integration_user if who == "integration" else _user_id(org, who)
    oauth = sub_type.startswith("OAuth")
    return Login(
        org, at, user_id or "", org.username(who), place,
        "Remote Access 2.0" if oauth else "Application", sub_type,
        extra.pop("app", APP if oauth else "Browser"), APP_ID if oauth else None,
        extra.pop("user_agent", INTEGRATION_AGENT if oauth else BROWSER_AGENT), **extra,
    )  # fmt: skip


def _user_id(org: Org, alias: str) -> str:
    return next(p.user_id for p in org.people if p.alias == alias)


def _logins(org: Org, start: datetime, end: datetime, rng: random.Random) -> list[Login]:
    logins: list[Login] = []
    at = start + timedelta(minutes=rng.randint(0, 30))
    while at < end:  # the integration user's refresh cadence
        logins.append(_login(org, at, "integration", rng.choice(EGRESS), "OAuth Refresh Token"))
        at += timedelta(minutes=rng.randint(15, 60), seconds=rng.randint(0, 59))
    for day in range(DAYS):
        midnight = start + timedelta(days=day)
        for person in org.people:
            if midnight.weekday() >= 5:
                continue
            office = midnight + timedelta(hours=8 + rng.randint(0, 2), minutes=rng.randint(0, 59))
            logins.append(_login(org, office, person.alias, person.office, "UI Username-Password"))
            if rng.random() < 0.15:  # (re)connecting the app: code exchanged by partner egress
                egress = rng.choice(EGRESS[:2])
                at = office + timedelta(minutes=3)
                logins.append(_login(org, at, person.alias, egress, "OAuth Web Server"))
    place, days_ago, succeeded = ATTACKS[org.alias]
    attack_start = end - timedelta(days=days_ago) + timedelta(hours=2, minutes=17)
    status = "Success" if succeeded else "Failed: IP Address Not Allowed"
    for minute in range(0, 60, 12):
        at = attack_start + timedelta(minutes=minute)
        logins.append(_login(org, at, "integration", place, "OAuth Refresh Token",
                             status=status, user_agent=ATTACKER_AGENT))  # fmt: skip
    logins.sort(key=lambda login: login.at)
    for number, login in enumerate(logins):
        login.record_id = stable_id("0Ya5g", org.alias, number, login.at)
        login.login_key = hashlib.md5(login.record_id.encode()).hexdigest()[:16]
    return logins


def _token(org: Org, logins: list[Login], end: datetime) -> Token:
    """The integration user's refresh token, used by every refresh the org saw."""
    token = Token(org, APP, APP_ID, org.integration_user or "", org.username("integration"),
                  end - timedelta(days=DAYS + 30))  # fmt: skip
    token.uses = [x.at for x in logins if x.user_id == org.integration_user and x.succeeded]
    return token


@dataclass
class OrgExport:
    """One org's logs as Salesforce would serve them."""

    org: Org
    login_history: dict[str, list[dict[str, object]]]  # UTC day → LoginHistory records
    elf_login: dict[str, list[dict[str, str]]]  # UTC day → Login ELF rows (Event Monitoring)
    login_events: list[dict[str, object]]  # LoginEvent records (Event Monitoring)
    token: Token  # the integration user's refresh token (OauthToken, OAuth usage)


@dataclass
class Fleet:
    end: datetime
    orgs: list[OrgExport]


def build(*, now: datetime, seed: int = 42) -> Fleet:
    """The fleet in memory: a pure function of (`now`, `seed`)."""
    rng = random.Random(seed)
    end = now.replace(minute=0, second=0, microsecond=0)
    start = (end - timedelta(days=DAYS)).replace(hour=0)
    exports = []
    for org in ORGS:
        logins = _logins(org, start, end, rng)
        by_day: dict[str, list[Login]] = {}
        for login in logins:
            by_day.setdefault(login.at.strftime("%Y-%m-%d"), []).append(login)
        monitored = org.event_monitoring
        elf = {day: [render.elf_login(x) for x in rows] for day, rows in by_day.items()}
        exports.append(
            OrgExport(
                org=org,
                login_history={
                    day: [render.login_history(x) for x in rows] for day, rows in by_day.items()
                },
                elf_login=elf if monitored else {},
                login_events=[render.login_event(x) for x in logins] if monitored else [],
                token=_token(org, logins, end),
            )
        )
    return Fleet(end=end, orgs=exports)
