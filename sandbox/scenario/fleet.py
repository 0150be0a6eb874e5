"""Four weeks of ordinary life in five subscriber orgs of one partner app, "Acme Sync".

The partner runs workers in three regions, each egressing from its own allowlisted address;
every org's integration user refreshes every 30 minutes from whichever region is on duty, and
the partner logs each call (a clean rotation chain). People log in from their offices through
the browser or SAML single sign-on, and carry phones whose Salesforce app refreshes from
carrier networks that change every week. Evidence reaches tokensentry two ways: `api` orgs as
LoginHistory pages with LoginGeo, `elf` orgs as event log files (Login rows without app, the
session's RestApi / ApiTotalUsage calls, which name the app's id and name).

Planted attacks and benign traps (`plants.py`) run inside this month: they use and advance
the same token chains, so an attack looks exactly like what it would do to a real partner.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ingest.sfid import to18

from ..model import (
    ApiCall,
    Login,
    Org,
    PartnerCall,
    Person,
    Place,
    Token,
    TokenRead,
    World,
    app_login,
    unplaced,
)
from ..salesforce import stable_id

NOW = datetime(2026, 11, 29, 12)
START = datetime(2026, 11, 1)
DAYS = 28
APP = "Acme Sync"
APP_ID15 = "0H45g000000AcMe"
MOBILE_APP = "Salesforce for iOS"
ALLOWLIST = ["203.0.113.0/28", "2001:db8:10::/122", "192.0.2.0/28"]


def place(ip: str, country: str | None, city: str | None, lat: float, lon: float) -> Place:
    """Where Salesforce's LoginGeo puts `ip` (it carries no accuracy radius)."""
    return Place(ip, country, city, lat, lon, 0.0)


EGRESS: dict[str, tuple[str, Place]] = {  # address → (worker, where Salesforce places it)
    ip: (worker, place(ip, *geo))
    for ip, worker, geo in (
        ("203.0.113.4", "sync-us-east-1", ("US", "Ashburn", 39.0438, -77.4874)),
        ("2001:db8:10::25", "sync-eu-west-1", ("IE", "Dublin", 53.3498, -6.2603)),
        ("192.0.2.5", "sync-ap-south-1", ("IN", "Mumbai", 19.076, 72.8777)),
        ("203.0.113.6", "sync-us-east-2", ("US", "Ashburn", 39.0438, -77.4874)),  # a second NAT
    )
}
EGRESS_IPS = ["203.0.113.4", "2001:db8:10::25", "192.0.2.5"]  # the regions' turns


def located(ip: str) -> Place:
    """Where Salesforce places one of the partner's egress addresses (others: unplaced)."""
    return EGRESS[ip][1] if ip in EGRESS else unplaced(ip)


def username(org: Org, user: str) -> str:
    return org.username(user[-5:].lower())


def record_id(org: Org, at: datetime, user: str, ip: str) -> str:
    return stable_id("0Ya5g", org.alias, at, user, ip)


def oauth_login(
    org: Org, at: datetime, user: str, where: Place, *, app: str = APP,
    agent: str = "Java/17.0.9", **extra: object,
) -> Login:  # fmt: skip
    """A connected app's OAuth login (`Remote Access 2.0`), a refresh unless `extra` sets
    sub_type; `extra` also sets status or login_key."""
    rid = record_id(org, at, user, where.ip)
    return app_login(org, at, user, username(org, user), where, app, "", agent, record_id=rid,
                     **extra)  # fmt: skip


def person(user15: str, ip: str, country: str, city: str, lat: float, lon: float, *,
           sso: bool = False) -> Person:  # fmt: skip
    """Someone at an office address the bundled GeoIP database places within a few km."""
    user = to18(user15)
    office = place(ip, country, city, lat, lon)
    return Person(user[-5:].lower(), user, office, office, office, sso=sso)


def _org(alias: str, org15: str, evidence: str, zone: str | None = None) -> Org:
    user15 = "0055g00000I" + alias[:4].capitalize()
    delivery = "api" if evidence == "api" else "files"
    return Org(alias, to18(org15), "subscriber", delivery, to18(user15), (),
               event_monitoring=evidence == "elf", time_zone=zone or "UTC")  # fmt: skip


ORGS = [
    _org("alpha", "00D5g00000AlPhA", "api", "America/New_York"),
    _org("bravo", "00D5g00000BrAvO", "api", "Europe/Berlin"),
    _org("charlie", "00D5g00000ChArL", "elf"),
    _org("delta", "00D5g00000DeLtA", "elf"),
    _org("echo", "00D5g00000EcHoO", "elf"),
]
BY_ALIAS = {org.alias: org for org in ORGS}
PEOPLE: dict[str, list[Person]] = {
    "alpha": [
        person("0055g00000AnaNY", "72.229.28.185", "US", "New York", 40.73, -73.98, sso=True)
    ],
    "bravo": [person("0055g00000BenSB", "95.90.0.1", "DE", "Saarbrücken", 49.24, 6.98)],
    "charlie": [person("0055g00000CyRot", "86.1.1.1", "GB", "Rotherham", 53.46, -1.38)],
    "delta": [person("0055g00000DanDV", "98.114.0.1", "US", "Dover", 39.16, -75.59)],
    "echo": [person("0055g00000EveAS", "220.233.0.1", "AU", "Ashfield", -33.89, 151.13)],
}  # fmt: skip
CARRIERS: list[tuple[str, tuple[str, str | None, float, float]]] = [
    # phone egress: T-Mobile (a city) and AT&T (a country)
    ("172.58.{week}.{host}", ("US", "Lithonia", 33.73, -84.1)),
    ("107.77.{week}.{host}", ("US", None, 37.751, -97.822)),
]


@dataclass
class Chain:
    """The partner's rotation chain for one org's integration user."""

    org: Org
    family: int = 0
    generation: int = 0
    authorized: list[datetime] = field(default_factory=lambda: [START - timedelta(days=90)])
    uses: int = 0
    last_used: datetime = START

    @property
    def token(self) -> str:
        return hashlib.sha256(
            f"{self.org.alias}:{self.family}:{self.generation}".encode()
        ).hexdigest()[:32]

    def successor(self) -> str:
        return hashlib.sha256(
            f"{self.org.alias}:{self.family}:{self.generation + 1}".encode()
        ).hexdigest()[:32]


@dataclass
class Fleet:
    world: World = field(default_factory=lambda: World(START, START + timedelta(days=DAYS), 8))
    chains: dict[str, Chain] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(8))
    keys: int = 0

    def login_key(self) -> str:
        self.keys += 1
        return hashlib.md5(f"login-key-{self.keys}".encode()).hexdigest()[:16]

    # -- what the partner's integration does --------------------------------------------------

    def refresh(self, org: Org, at: datetime, ip: str, *, api_calls: bool = False) -> None:
        """One successful refresh by the partner: its log line, Salesforce's login, and now
        and then the session's API calls (the evidence that names the app in ELF orgs)."""
        chain = self.chains[org.alias]
        self.partner_call(org, at - timedelta(milliseconds=250), ip, chain.token, chain.successor())
        key = self.login_key()
        self.integration_login(org, at, ip, key=key)
        chain.generation += 1
        chain.uses += 1
        chain.last_used = at
        if api_calls and org.evidence == "elf":
            self.api(
                org,
                at + timedelta(seconds=2),
                org.integration_user,
                ip,
                key,
                "python-requests/2.31.0",
            )

    def api(
        self,
        org: Org,
        at: datetime,
        user: str,
        ip: str,
        key: str,
        agent: str,
        *,
        entity: str = "Account",
        rows: int = 20,
        app: str = APP,
        app_id15: str = APP_ID15,
    ) -> None:
        """A REST query in session `key`: a RestApi row and an ApiTotalUsage row."""
        self.world.api_calls.append(
            ApiCall(org, at, user, username(org, user), unplaced(ip), app, app_id15, "REST",
                    "/v62.0/query", entity, login_key=key, agent=agent, rows=rows,
                    rest_api=True)
        )  # fmt: skip

    def reauthorize(self, org: Org, at: datetime, ip: str) -> None:
        """A person re-connects the app: a new authorization code starts a new chain."""
        chain = self.chains[org.alias]
        chain.family += 1
        chain.generation = 0
        chain.authorized.append(at)
        self.partner_call(org, at, ip, None, chain.token, grant_type="authorization_code")
        self.integration_login(org, at, ip, sub_type="OAuth Web Server")

    def partner_call(
        self, org: Org, at: datetime, ip: str, token: str | None, new_token: str | None,
        **extra: object,
    ) -> None:  # fmt: skip
        """A line of the partner's token log: its worker in the region `ip` egresses from."""
        worker = EGRESS[ip][0] if ip in EGRESS else "sync-unknown"
        grant = str(extra.pop("grant_type", "refresh_token"))
        pkce = True if grant == "authorization_code" else None
        self.world.partner_calls.append(
            PartnerCall(org, at, org.integration_user or "", grant, token, new_token,
                        unplaced(ip), worker, pkce=pkce, **extra)  # type: ignore[arg-type]
        )  # fmt: skip

    def api_burst(
        self, org: Org, start: datetime, calls: int, every: timedelta, ip: str, agent: str,
        entity: str, rows: int,
    ) -> None:  # fmt: skip
        """`calls` API calls by the integration user, one every `every` from `start`."""
        for n in range(calls):
            self.api(org, start + every * n, org.integration_user, ip, "", agent, entity=entity,
                     rows=rows)  # fmt: skip

    def partner_refused(
        self,
        org: Org,
        at: datetime,
        ip: str,
        token: str | None,
        *,
        outcome: str = "invalid_grant",
        error: str = "expired access/refresh token",
    ) -> None:
        """A refresh the partner's worker sent that did not return a token."""
        self.partner_call(org, at, ip, token, None, outcome=outcome, error_description=error)

    def salesforce_refused(self, org: Org, at: datetime, ip: str) -> None:
        """The failed refresh as Salesforce logs it: a spent or revoked token."""
        self.integration_login(org, at, ip, status="Failed: Invalid Token")

    def integration_login(self, org: Org, at: datetime, ip: str, *, key: str = "",
                          **extra: object) -> None:  # fmt: skip
        """The integration user's OAuth login from the partner's egress `ip`, as Salesforce
        logs it (a refresh unless `extra` says otherwise); `key`: its session's login key."""
        user = org.integration_user or ""
        self.world.logins.append(
            oauth_login(org, at, user, located(ip), login_key=key or self.login_key(), **extra)
        )

    # -- people ---------------------------------------------------------------------------------

    def office_login(
        self,
        org: Org,
        person: Person,
        at: datetime,
        where: Place | None = None,
        *,
        sso: bool | None = None,
    ) -> None:
        """A browser login (SAML single sign-on if the person uses it, unless `sso` says
        otherwise) from the office, or from `where`."""
        use_sso = person.sso if sso is None else sso
        where = where or person.office
        user = person.user_id
        self.world.logins.append(
            Login(
                org,
                at,
                user,
                username(org, user),
                where,
                "SAML Sfdc Initiated SSO" if use_sso else "Application",
                None if use_sso else "UI Username-Password",
                None,
                None,
                "Mozilla/5.0 (Macintosh) Chrome/131.0",
                record_id=record_id(org, at, user, where.ip),
                login_key=self.login_key(),
            )
        )

    def phone_refresh(self, org: Org, person: Person, at: datetime) -> None:
        week = (at - START).days // 7
        pattern, geo = CARRIERS[(at.hour + week) % 2]
        ip = pattern.format(week=week + 1, host=10 + self.rng.randint(0, 200))
        self.world.logins.append(
            oauth_login(
                org,
                at,
                person.user_id,
                place(ip, *geo),
                app=MOBILE_APP,
                agent="SalesforceMobileSDK/12.1.0 iOS/18.1",
                login_key=self.login_key(),
            )
        )


Plant = tuple[datetime, Callable[[Fleet], None]]


def build_fleet(plants: list[Plant]) -> Fleet:
    """The month, with each plant run at its moment inside the integration's cadence."""
    fleet = Fleet()
    for org in ORGS:
        fleet.chains[org.alias] = Chain(org)
    pending = sorted(plants, key=lambda p: p[0])
    slots = [START + timedelta(minutes=30 * n, seconds=7) for n in range(DAYS * 48)]
    for n, slot in enumerate(slots):
        while pending and pending[0][0] <= slot:
            pending.pop(0)[1](fleet)
        for org in ORGS:
            ip = EGRESS_IPS[(n // 4) % 3]  # regions take turns every two hours
            fleet.refresh(
                org, slot + timedelta(seconds=ORGS.index(org) * 11), ip, api_calls=n % 4 == 0
            )
    for _, plant in pending:
        plant(fleet)
    for day in range(DAYS):
        midnight = START + timedelta(days=day)
        for org in ORGS:
            for person in PEOPLE[org.alias]:
                if midnight.weekday() < 5:
                    fleet.office_login(org, person, midnight + timedelta(hours=8, minutes=30 + day))
                for hour in range(8, 21, 3):
                    fleet.phone_refresh(org, person, midnight + timedelta(hours=hour, minutes=17))
    _snapshots(fleet)
    return fleet


def _read(org: Org, read_at: datetime, user: str, app: str, created: datetime,
          last_used: datetime, count: int) -> TokenRead:  # fmt: skip
    """The OauthToken row of `user`'s `app` token as the read at `read_at` shows it."""
    token = Token(org, app, APP_ID15 if app == APP else "", user, username(org, user), created)
    return TokenRead(token, read_at, last_used, count)


def _snapshots(fleet: Fleet) -> None:
    """OauthToken read weekly; echo's token source stops delivering after its first read."""
    for org in ORGS:
        reads = [START + timedelta(days=d, hours=6) for d in (7, 14, 21, 28)]
        if org.alias == "echo":
            reads = reads[:1]
        integration = org.integration_user or ""
        reports = to18("0055g00000RpT" + org.alias[:2])
        for read_at in reads:
            chain = fleet.chains[org.alias]
            created = max(at for at in chain.authorized if at <= read_at)
            fleet.world.token_reads += [
                _read(org, read_at, integration, APP, created, min(read_at, NOW),
                      40 + (read_at - START).days * 48),
                # a reports user who stopped refreshing before the month began
                _read(org, read_at, reports, APP, START - timedelta(days=80),
                      START - timedelta(days=20), 310),
            ] + [
                _read(org, read_at, person.user_id, MOBILE_APP, START - timedelta(days=200),
                      read_at - timedelta(hours=10), 900)
                for person in PEOPLE[org.alias]
            ]  # fmt: skip
