"""A realistic demo fleet, written in Salesforce's own export formats.

Three subscriber orgs use the partner's ECA "Acme Sync" for three weeks: each org's integration
user refreshes its token every 15-60 minutes from the partner's allowlisted egress (two
regions, IPv4 and IPv6), people log in to Salesforce from their offices and now and then
connect the app through the OAuth web-server flow. Planted among them:

- acme-prod: a stolen refresh token used successfully from a DigitalOcean VPS (208.68.36.90,
  published Drift IOC) for an hour: off-allowlist, high.
- globex-prod: refresh attempts from a Tor exit (185.220.101.33) that the allowlist blocked:
  off-allowlist, medium.
- initech-prod: a partner worker in a new region (192.0.2.77) refreshing before its egress was
  added to the allowlist, seen in the partner's own token log and in LoginHistory: high.

Files, one folder per org (LoginHistory carries no org id, so each folder is imported with
`--org`): LoginHistory SOQL JSON pages (with LoginGeo) for every org, Login EventLogFile CSVs for
acme-prod (it has Event Monitoring, so its logins appear twice and must merge), OauthToken
query results, the partner's token-exchange JSON Lines, and the matching config. Output is a
pure function of (`now`, `seed`), so tests can assert on it.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from ingest.sfid import to18

APP = "Acme Sync"
CONSUMER_KEY = "3MVG9demoAcmeSyncConsumerKey000000000000000000000000000000000000000"
ALLOWLIST = ["203.0.113.0/28", "2001:db8:10::/48"]
EGRESS = ["203.0.113.4", "203.0.113.5", "2001:db8:10::25"]  # us-east and eu-west NAT gateways
EGRESS_GEO = {
    "203.0.113.4": ("US", "Ashburn", 39.0438, -77.4874),
    "203.0.113.5": ("IE", "Dublin", 53.3498, -6.2603),
    "2001:db8:10::25": ("IE", "Dublin", 53.3498, -6.2603),
}
DAYS = 21  # longer than new_network's 14-day learning period
ELF_HEADER = [
    "EVENT_TYPE",
    "TIMESTAMP",
    "REQUEST_ID",
    "ORGANIZATION_ID",
    "USER_ID",
    "RUN_TIME",
    "CPU_TIME",
    "URI",
    "SESSION_KEY",
    "LOGIN_KEY",
    "USER_TYPE",
    "REQUEST_STATUS",
    "DB_TOTAL_TIME",
    "BROWSER_TYPE",
    "API_TYPE",
    "API_VERSION",
    "USER_NAME",
    "TLS_PROTOCOL",
    "CIPHER_SUITE",
    "AUTHENTICATION_METHOD_REFERENCE",
    "LOGIN_TYPE",
    "LOGIN_SUB_TYPE",
    "LOGIN_STATUS",
    "TIMESTAMP_DERIVED",
    "USER_ID_DERIVED",
    "CLIENT_IP",
    "URI_ID_DERIVED",
    "SOURCE_IP",
    "COUNTRY_CODE",
]


@dataclass(frozen=True)
class DemoOrg:
    alias: str
    org_id: str
    integration_user: str
    people: tuple[tuple[str, str, str, tuple[str, str, float, float]], ...]  # id, name, ip, geo
    event_monitoring: bool = False


ORGS = (
    DemoOrg(
        "acme-prod",
        to18("00D5g000004XyZa"),
        to18("0055g00000IntAc"),
        (
            (
                to18("0055g00000AnaSi"),
                "ana.silva",
                "198.51.100.10",
                ("US", "New York", 40.71, -74.0),
            ),
            (to18("0055g00000BenLe"), "ben.lee", "198.51.100.11", ("US", "New York", 40.71, -74.0)),
        ),
        event_monitoring=True,
    ),
    DemoOrg(
        "globex-prod",
        to18("00D5g000007PqRs"),
        to18("0055g00000IntGl"),
        (
            (
                to18("0055g00000Carla"),
                "carla.marin",
                "198.51.100.40",
                ("ES", "Madrid", 40.42, -3.7),
            ),
            (to18("0055g00000DevPa"), "dev.patel", "198.51.100.41", ("GB", "London", 51.51, -0.13)),
        ),
    ),
    DemoOrg(
        "initech-prod",
        to18("00D5g00000InTeC"),
        to18("0055g00000IntIn"),
        ((to18("0055g00000EveKi"), "eve.kim", "198.51.100.70", ("US", "Austin", 30.27, -97.74)),),
    ),
)

ATTACKS = {
    "acme-prod": ("208.68.36.90", ("US", "North Bergen", 40.79, -74.02), 2, True),
    "globex-prod": ("185.220.101.33", ("DE", "Frankfurt", 50.11, 8.68), 1, False),
    "initech-prod": ("192.0.2.77", ("SG", "Singapore", 1.29, 103.85), 3, True),
}
"""alias → (IP, geo, days before now, succeeded)."""


@dataclass
class Login:
    org: DemoOrg
    at: datetime
    user_id: str
    username: str
    ip: str
    geo: tuple[str, str, float, float]
    login_type: str  # LoginHistory label
    sub_type: str | None
    status: str = "Success"
    application: str | None = APP
    user_agent: str = "Java/17.0.9"
    record_id: str = ""
    login_key: str = ""


def _id(prefix: str, *parts: object) -> str:
    digest = hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest().upper()
    return (prefix + digest)[:18]


def _logins(org: DemoOrg, start: datetime, end: datetime, rng: random.Random) -> list[Login]:
    logins: list[Login] = []
    at = start + timedelta(minutes=rng.randint(0, 30))
    while at < end:  # the integration user's refresh cadence
        ip = rng.choice(EGRESS)
        logins.append(
            Login(
                org,
                at,
                org.integration_user,
                f"integration@{org.alias}.example",
                ip,
                EGRESS_GEO[ip],
                "Remote Access 2.0",
                "OAuth Refresh Token",
            )
        )
        at += timedelta(minutes=rng.randint(15, 60), seconds=rng.randint(0, 59))
    for day in range(DAYS):
        midnight = start + timedelta(days=day)
        for user_id, name, ip, geo in org.people:
            if midnight.weekday() >= 5:
                continue
            office = midnight + timedelta(hours=8 + rng.randint(0, 2), minutes=rng.randint(0, 59))
            logins.append(
                Login(
                    org,
                    office,
                    user_id,
                    f"{name}@{org.alias}.example",
                    ip,
                    geo,
                    "Application",
                    "UI Username-Password",
                    application="Browser",
                    user_agent="Mozilla/5.0 (Macintosh) Chrome/131.0",
                )
            )
            if rng.random() < 0.15:  # (re)connecting the app: code exchanged by partner egress
                egress = rng.choice(EGRESS[:2])
                logins.append(
                    Login(
                        org,
                        office + timedelta(minutes=3),
                        user_id,
                        f"{name}@{org.alias}.example",
                        egress,
                        EGRESS_GEO[egress],
                        "Remote Access 2.0",
                        "OAuth Web Server",
                    )
                )
    ip, geo, days_ago, succeeded = ATTACKS[org.alias]
    attack_start = end - timedelta(days=days_ago) + timedelta(hours=2, minutes=17)
    for minute in range(0, 60, 12):
        logins.append(
            Login(
                org,
                attack_start + timedelta(minutes=minute),
                org.integration_user,
                f"integration@{org.alias}.example",
                ip,
                geo,
                "Remote Access 2.0",
                "OAuth Refresh Token",
                status="Success" if succeeded else "Failed: IP Address Not Allowed",
                user_agent="python-requests/2.32.4",
            )
        )
    logins.sort(key=lambda login: login.at)
    for number, login in enumerate(logins):
        login.record_id = _id("0Ya5g", org.alias, number, login.at)
        login.login_key = hashlib.md5(login.record_id.encode()).hexdigest()[:16]
    return logins


def _login_history_record(login: Login) -> dict[str, object]:
    country, city, lat, lon = login.geo
    return {
        "attributes": {
            "type": "LoginHistory",
            "url": f"/services/data/v62.0/sobjects/LoginHistory/{login.record_id}",
        },
        "Id": login.record_id,
        "UserId": login.user_id,
        "LoginTime": login.at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        "LoginType": login.login_type,
        "LoginSubType": login.sub_type,
        "SourceIp": login.ip,
        "Status": login.status,
        "Application": login.application,
        "Browser": "Unknown" if login.login_type == "Remote Access 2.0" else "Chrome 131",
        "Platform": "Unknown",
        "LoginUrl": f"{login.org.alias}.my.salesforce.com",
        "CountryIso": country,
        "LoginGeoId": _id("04F5g", login.record_id),
        "LoginGeo": {
            "attributes": {
                "type": "LoginGeo",
                "url": f"/services/data/v62.0/sobjects/LoginGeo/{_id('04F5g', login.record_id)}",
            },
            "City": city,
            "Country": country,
            "CountryIso": country,
            "Latitude": lat,
            "Longitude": lon,
        },
    }


def _milliseconds(login: Login) -> int:
    """The login's milliseconds, shared by its ELF line and its LoginEvent."""
    return int(hashlib.md5(login.record_id.encode()).hexdigest()[:4], 16) % 1000


def _login_event_record(login: Login) -> dict[str, object]:
    country, city, lat, lon = login.geo
    stamp = login.at.replace(microsecond=_milliseconds(login) * 1000)
    identifier = hashlib.md5(("event" + login.record_id).encode()).hexdigest()
    return {
        "attributes": {"type": "LoginEvent"},
        "EventIdentifier": f"{identifier[:8]}-{identifier[8:12]}-{identifier[12:16]}-"
        f"{identifier[16:20]}-{identifier[20:32]}",
        "EventDate": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{_milliseconds(login):03d}+0000",
        "UserId": login.user_id,
        "Username": login.username,
        "SourceIp": login.ip,
        "LoginType": login.login_type,
        "LoginSubType": login.sub_type,
        "Status": login.status,
        "Application": login.application,
        "LoginLatitude": lat,
        "LoginLongitude": lon,
        "CountryIso": country,
        "City": city,
        "LoginKey": login.login_key,
        "LoginHistoryId": login.record_id,
        "Browser": "Unknown",
        "Platform": "Unknown",
        "LoginUrl": f"{login.org.alias}.my.salesforce.com",
    }


def _elf_row(login: Login, rng: random.Random) -> dict[str, str]:
    milliseconds = _milliseconds(login)
    stamp = login.at.replace(microsecond=milliseconds * 1000)
    oauth = login.login_type == "Remote Access 2.0"
    return {
        "EVENT_TYPE": "Login",
        "TIMESTAMP": stamp.strftime("%Y%m%d%H%M%S.") + f"{milliseconds:03d}",
        "REQUEST_ID": hashlib.md5(login.login_key.encode()).hexdigest()[:22],
        "ORGANIZATION_ID": login.org.org_id[:15],
        "USER_ID": login.user_id[:15],
        "RUN_TIME": str(rng.randint(40, 200)),
        "CPU_TIME": str(rng.randint(10, 60)),
        "URI": "/services/oauth2/token" if oauth else "/index.jsp",
        "SESSION_KEY": "",
        "LOGIN_KEY": login.login_key,
        "USER_TYPE": "Standard",
        "REQUEST_STATUS": "Success" if login.status == "Success" else "Failure",
        "DB_TOTAL_TIME": str(rng.randint(10**6, 10**8)),
        "BROWSER_TYPE": login.user_agent,
        "API_TYPE": "",
        "API_VERSION": "62.0" if oauth else "9998.0",
        "USER_NAME": login.username,
        "TLS_PROTOCOL": "TLSv1.3",
        "CIPHER_SUITE": "TLS_AES_256_GCM_SHA384",
        "AUTHENTICATION_METHOD_REFERENCE": "",
        "LOGIN_TYPE": "i" if oauth else "A",
        "LOGIN_SUB_TYPE": (login.sub_type or "").replace(" ", "").replace("-", "").lower(),
        "LOGIN_STATUS": "LOGIN_NO_ERROR" if login.status == "Success" else "LOGIN_OAUTH_INVALID_IP",
        "TIMESTAMP_DERIVED": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{milliseconds:03d}Z",
        "USER_ID_DERIVED": login.user_id,
        "CLIENT_IP": login.ip,
        "URI_ID_DERIVED": "",
        "SOURCE_IP": login.ip,
        "COUNTRY_CODE": login.geo[0],
    }


def _partner_lines(logins: list[Login], rng: random.Random) -> list[dict[str, object]]:
    """The partner's worker log of the refreshes it made itself (not the attacker's)."""
    lines = []
    generation: dict[str, int] = {}
    for login in logins:
        new_region = login.org.alias == "initech-prod" and login.ip == ATTACKS["initech-prod"][0]
        if login.sub_type != "OAuth Refresh Token" or not (login.ip in EGRESS or new_region):
            continue
        family = f"{login.org.alias}:{login.user_id}"
        current = generation.get(family, 0)
        generation[family] = current + 1
        sent = login.at - timedelta(milliseconds=rng.randint(80, 400))
        worker_region = "ap-southeast-1" if login.ip == "192.0.2.77" else "us-east-1"
        lines.append(
            {
                "ts": sent.strftime("%Y-%m-%dT%H:%M:%S.") + f"{sent.microsecond // 1000:03d}Z",
                "org_id": login.org.org_id,
                "app": APP,
                "user_id": login.user_id,
                "grant_type": "refresh_token",
                "token_fp": hashlib.sha256(f"{family}:{current}".encode()).hexdigest()[:32],
                "new_token_fp": hashlib.sha256(f"{family}:{current + 1}".encode()).hexdigest()[:32],
                "egress_ip": login.ip,
                "worker": f"sync-worker-{worker_region}-{rng.randint(1, 3)}",
                "outcome": "success",
                "error_description": None,
                "pkce": None,
            }
        )
    return lines


def _oauth_tokens(org: DemoOrg, end: datetime, uses: int) -> dict[str, object]:
    return {
        "totalSize": 1,
        "done": True,
        "records": [
            {
                "attributes": {"type": "OauthToken"},
                "Id": None,
                "AppName": APP,
                "UserId": org.integration_user,
                "CreatedDate": (end - timedelta(days=DAYS + 30)).strftime(
                    "%Y-%m-%dT%H:%M:%S.000+0000"
                ),
                "LastUsedDate": end.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
                "UseCount": uses,
                "DeleteToken": hashlib.sha1(org.alias.encode()).hexdigest(),
            }
        ],
    }


@dataclass
class OrgExport:
    """One org's logs as Salesforce would serve them."""

    org: DemoOrg
    login_history: dict[str, list[dict[str, object]]]  # UTC day → LoginHistory records
    elf_login: dict[str, list[dict[str, str]]]  # UTC day → Login ELF rows (Event Monitoring)
    login_events: list[dict[str, object]]  # LoginEvent records (Event Monitoring)
    oauth_tokens: dict[str, object]  # OauthToken query result


@dataclass
class Fleet:
    end: datetime
    orgs: list[OrgExport]
    partner_lines: list[dict[str, object]]


def build(*, now: datetime, seed: int = 42) -> Fleet:
    """The demo fleet in memory: a pure function of (`now`, `seed`)."""
    rng = random.Random(seed)
    end = now.replace(minute=0, second=0, microsecond=0)
    start = (end - timedelta(days=DAYS)).replace(hour=0)
    exports, all_logins = [], []
    for org in ORGS:
        logins = _logins(org, start, end, rng)
        all_logins.extend(logins)
        by_day: dict[str, list[Login]] = {}
        for login in logins:
            by_day.setdefault(login.at.strftime("%Y-%m-%d"), []).append(login)
        monitored = org.event_monitoring
        exports.append(
            OrgExport(
                org=org,
                login_history={
                    day: [_login_history_record(r) for r in rows] for day, rows in by_day.items()
                },
                elf_login={day: [_elf_row(r, rng) for r in rows] for day, rows in by_day.items()}
                if monitored
                else {},
                login_events=[_login_event_record(r) for r in logins] if monitored else [],
                oauth_tokens=_oauth_tokens(
                    org, end, sum(1 for x in logins if x.user_id == org.integration_user)
                ),
            )
        )
    return Fleet(end=end, orgs=exports, partner_lines=_partner_lines(all_logins, rng))
