"""What happens in the world, before it is written in any org's file format.

A `Timeline` collects logins, API calls, partner token calls and token snapshots; `render`
(in `render.py`) writes each org's share the way that org's evidence reaches tokensentry:
LoginHistory SOQL pages for orgs read through the API, event log files for orgs that export
them (whose Login rows carry no app name), OauthToken results for both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..model import Org

__all__ = ["Org"]  # the scenario's modules take the shared Org from here

Geo = tuple[str, str | None, float, float]  # country ISO, city, latitude, longitude


@dataclass
class Login:
    org: Org
    at: datetime
    user: str
    ip: str
    login_type: str  # LoginHistory label: Remote Access 2.0, Application, SAML ...
    sub_type: str | None  # LoginHistory label: OAuth Refresh Token, UI Username-Password ...
    app: str | None  # LoginHistory.Application; the Login ELF has no such column
    agent: str = "Java/17.0.9"
    status: str = "Success"
    geo: Geo | None = None  # what Salesforce's LoginGeo says (API orgs only)
    login_key: str = ""


@dataclass
class ApiCall:
    org: Org
    at: datetime
    user: str
    ip: str
    kind: str  # RestApi, BulkApi2, ApiTotalUsage
    agent: str
    app_id15: str = ""
    app_name: str = ""  # ApiTotalUsage names the app; RestApi carries its id only
    login_key: str = ""
    entity: str = "Account"
    rows: int = 1


@dataclass
class PartnerCall:
    org: Org
    at: datetime
    user: str
    ip: str
    token: str | None
    new_token: str | None
    grant: str = "refresh_token"
    worker: str = "sync-us-east-1"
    outcome: str = "success"
    error: str | None = None
    app: str = ""


@dataclass
class Token:
    """One OauthToken row: the org's token snapshot as read at `read_at`."""

    org: Org
    user: str
    app: str
    created: datetime
    last_used: datetime
    use_count: int
    read_at: datetime


@dataclass
class Timeline:
    logins: list[Login] = field(default_factory=list)
    api_calls: list[ApiCall] = field(default_factory=list)
    partner_calls: list[PartnerCall] = field(default_factory=list)
    tokens: list[Token] = field(default_factory=list)


@dataclass(frozen=True)
class Planted:
    """An attack the world contains and the alert it must raise.

    An alert is this attack's when its detector matches, its org matches (None: any, for
    fleet-wide correlations), one of its IPs is among `ips`, and its time span overlaps
    [`start`, `end`]."""

    label: str
    threat: str  # the THREATS.md class
    detector: str
    severity: str
    org_id: str | None
    ips: frozenset[str]
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Benign:
    """Behaviour that must stay below medium, and where it shows (for reporting)."""

    label: str
    org_id: str | None
    ips: frozenset[str]
    start: datetime
    end: datetime


@dataclass(frozen=True)
class WorldFile:
    path: str  # relative to the world's root
    org_id: str | None  # what `import --org` must say (LoginHistory carries no org id)
    delivered_at: datetime  # when the file reaches tokensentry (ELF: hours after the fact)
