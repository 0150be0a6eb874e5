"""The world model: who and where (orgs, people, places), and what happened, before it is
written in any Salesforce format.

One `Login` becomes a LoginHistory record, a LoginEvent and a Login ELF row (whichever the org
delivers); an `ApiCall` an ApiTotalUsage row; a `BulkJob` a BulkApi2 row; a `PartnerCall` a line
of the partner's token-exchange log. `story` names the planted story a record belongs to
(`data/demo_stories.toml`), None for routine traffic.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .salesforce import stable_id

__all__ = ["stable_id"]  # the worlds take ids from here


@dataclass(frozen=True)
class Place:
    """An address as GeoLite2 2019 places it: country, city, latitude, longitude, radius km.
    `country` None: an address Salesforce could not place (`unplaced`), its login has no
    LoginGeo."""

    ip: str
    country: str | None
    city: str | None
    latitude: float
    longitude: float
    radius_km: float

    @property
    def located(self) -> bool:
        return self.country is not None


def unplaced(ip: str) -> Place:
    """An address as Salesforce sees one it cannot place: the address alone."""
    return Place(ip, None, None, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Person:
    alias: str  # username's local part
    user_id: str
    office: Place
    home: Place
    phone: Place
    sso: bool = False  # signs in through SAML single sign-on rather than a password


@dataclass(frozen=True)
class Org:
    alias: str
    org_id: str
    kind: str  # subscriber | partner
    delivery: str  # api | files: ingested through the fake Salesforce, or exported ELF files
    integration_user: str | None  # the partner's integration user in this subscriber org
    people: tuple[Person, ...]
    vendor_app: bool = False  # Zenith CPQ installed
    event_monitoring: bool = False  # EventLogFile (Login, Logout, ApiTotalUsage, BulkApi2)
    login_event: bool = False  # Real-Time Event Monitoring's LoginEvent
    time_zone: str = "America/New_York"
    extra_users: dict[str, str] = field(default_factory=dict)  # username local part → id

    def username(self, alias: str) -> str:
        return f"{alias}@{self.alias}.example"

    @property
    def evidence(self) -> str:
        """How its logins reach tokensentry: "api" (LoginHistory with LoginGeo, pulled or
        exported) or "elf" (event log files only, whose Login rows name no app)."""
        return "api" if self.delivery == "api" else "elf"


SUCCESS = "Success"
BLOCKED_IP = "Failed: IP Address Not Allowed"
INVALID_TOKEN = "Failed: Invalid Token"


@dataclass
class Login:
    """A login as LoginHistory records it: `record_id` its Id, `place` where LoginGeo puts
    `place.ip` (an `unplaced` address: no LoginGeo)."""

    org: Org
    at: datetime
    user_id: str
    username: str
    place: Place
    login_type: str  # LoginHistory label: "Remote Access 2.0" | "Application"
    sub_type: str | None  # "OAuth Refresh Token", "OAuth Web Server", "UI Username-Password"...
    app: str | None
    app_id: str | None
    user_agent: str
    status: str = SUCCESS
    story: str | None = None
    record_id: str = ""
    login_key: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCESS


def app_login(org: Org, at: datetime, user_id: str, username: str, place: Place, app: str,
              app_id: str, user_agent: str, *, sub_type: str = "OAuth Refresh Token",
              **extra: object) -> Login:  # fmt: skip
    """A connected app's OAuth login (`Remote Access 2.0`): a refresh unless `sub_type` says
    otherwise; `extra` sets status, story, record_id or login_key."""
    return Login(org, at, user_id, username, place, "Remote Access 2.0", sub_type, app, app_id,
                 user_agent, **extra)  # type: ignore[arg-type]  # fmt: skip


@dataclass
class ApiCall:
    """An ApiTotalUsage row: one REST or Bulk call made with an access token of `app`."""

    org: Org
    at: datetime
    user_id: str
    username: str
    place: Place
    app: str
    app_id: str
    family: str  # REST | Bulk2
    resource: str
    entity: str
    method: str = "GET"
    status_code: int = 200
    login_key: str = ""
    story: str | None = None
    agent: str = ""  # the client's user agent (ApiTotalUsage CLIENT_NAME, RestApi USER_AGENT)
    rows: int = 1  # records the request returned (RestApi ROWS_PROCESSED)
    rest_api: bool = False  # the org's RestApi event log also records it
    uri: str = ""  # RestApi URI; "" for the query URI of `entity` (a later page names a locator)


@dataclass
class BulkJob:
    """A BulkApi2 row: one job-state change of a Bulk API 2.0 query job."""

    org: Org
    at: datetime
    user_id: str
    place: Place
    entity: str
    records: int
    job_id: str
    status: str = "JobComplete"
    login_key: str = ""
    story: str | None = None


@dataclass
class Logout:
    org: Org
    at: datetime
    user_id: str
    place: Place
    login_key: str
    session_type: str  # U (UI) | O (OAuth)


@dataclass
class PartnerCall:
    """One call the partner's own software made to a token endpoint (CONTRACT §4)."""

    org: Org
    at: datetime
    user_id: str
    grant_type: str
    token_fp: str | None
    new_token_fp: str | None
    place: Place
    worker: str
    outcome: str = "success"
    error_description: str | None = None
    pkce: bool | None = None
    story: str | None = None

    def line(self) -> dict[str, object]:
        return {
            "ts": self.at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.at.microsecond // 1000:03d}Z",
            "org_id": self.org.org_id,
            "app": "Acme Sync",
            "user_id": self.user_id,
            "grant_type": self.grant_type,
            "token_fp": self.token_fp,
            "new_token_fp": self.new_token_fp,
            "egress_ip": self.place.ip,
            "worker": self.worker,
            "outcome": self.outcome,
            "error_description": self.error_description,
            "pkce": self.pkce,
        }


@dataclass
class Token:
    """A refresh token as OauthToken and the OAuth usage resources describe it."""

    org: Org
    app: str
    app_id: str
    user_id: str
    username: str
    created: datetime
    uses: list[datetime] = field(default_factory=list)  # successful refreshes (and the grant)

    def as_of(self, moment: datetime) -> tuple[datetime, int]:
        """Last use and use count that a snapshot taken at `moment` shows."""
        seen = [at for at in self.uses if at <= moment]
        return (max(seen) if seen else self.created), len(seen)


@dataclass
class TokenRead:
    """One OauthToken row as a read at `read_at` showed it, for worlds that script what the
    snapshot says rather than derive it from the token's uses (`Token.as_of`)."""

    token: Token
    read_at: datetime
    last_used: datetime
    use_count: int


def fingerprint(*parts: object) -> str:
    """A keyed-hash-like stand-in for a refresh token's fingerprint (never the token)."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


@dataclass
class World:
    """A world's days: `start` inclusive to `end` exclusive (UTC)."""

    start: datetime
    end: datetime
    seed: int
    logins: list[Login] = field(default_factory=list)
    api_calls: list[ApiCall] = field(default_factory=list)
    bulk_jobs: list[BulkJob] = field(default_factory=list)
    logouts: list[Logout] = field(default_factory=list)
    partner_calls: list[PartnerCall] = field(default_factory=list)
    tokens: dict[tuple[str, str, str], Token] = field(default_factory=dict)
    token_reads: list[TokenRead] = field(default_factory=list)
    oauth_snapshots: dict[str, list[datetime]] = field(default_factory=dict)
    """Import-only org alias → when its OauthToken exports were taken (API orgs: at ingest)."""

    def token(self, org: Org, app: str, app_id: str, user_id: str, username: str,
              created: datetime, *, in_use: bool = False) -> Token:  # fmt: skip
        """The (org, app, user) token; `in_use`: it was refreshed just before the 30 days too."""
        key = (org.org_id, app, user_id)
        if key not in self.tokens:
            token = Token(org, app, app_id, user_id, username, created)
            if in_use:
                token.uses.append(self.start - timedelta(hours=1))
            self.tokens[key] = token
        return self.tokens[key]

    def of(self, org: Org) -> list[Login]:
        return [login for login in self.logins if login.org.org_id == org.org_id]
