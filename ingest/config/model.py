"""The configuration (CONTRACT §3) as frozen dataclasses: what the rest of tokensentry reads.

Parsing and checking them is `ingest.config.parse`; this module holds only the shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..netlist import IpAllowlist
from ..store_settings import StoreConfig
from .secret_refs import SecretRef

DEFAULT_LOGIN_URL = "https://login.salesforce.com"


@dataclass(frozen=True)
class AppConfig:
    name: str
    consumer_key: str | None
    allowlist: IpAllowlist | None
    known_egress: IpAllowlist | None = None


@dataclass(frozen=True)
class AuthConfig:
    method: str
    username: str | None = None
    consumer_key: str | None = None
    private_key: SecretRef | None = None
    consumer_secret: SecretRef | None = None
    token: SecretRef | None = None


@dataclass(frozen=True)
class OrgConfig:
    alias: str
    org_id: str | None
    kind: str
    instance_url: str
    login_url: str
    auth: AuthConfig | None
    ca_bundle: Path | None = None
    sources: tuple[str, ...] | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    connection_error: str | None = None  # a broken connection setting: this org's ingest fails

    @property
    def import_only(self) -> bool:
        """CONTRACT §8: an org with an org_id and no connection settings is for `import` only."""
        return self.connection_error is None and not self.instance_url and self.auth is None


@dataclass(frozen=True)
class GeoIpConfig:
    city_db: Path | None = None
    asn_db: Path | None = None


@dataclass(frozen=True)
class DigestConfig:
    smtp_host: str | None = None
    smtp_port: int = 587
    security: str = "starttls"
    username: str | None = None
    password: SecretRef | None = None
    sender: str | None = None
    to: tuple[str, ...] = ()
    dashboard_url: str | None = None
    send_when_empty: bool = False
    ca_bundle: Path | None = None  # extra CA for a TLS-inspecting relay or a local test server
    max_per_severity: int = 10  # the body lists this many incidents per severity, then a count
    enabled: bool = True  # false: `nightly` mails nothing, `digest` only writes --dry-run files


@dataclass(frozen=True)
class DashboardConfig:
    # The request header an SSO proxy in front of the dashboard puts the signed-in user in
    # (e.g. "X-Forwarded-User"); None: the analyst types a name once per session.
    user_header: str | None = None


@dataclass(frozen=True)
class IngestConfig:
    workers: int = 4  # orgs fetched in parallel; writes stay on one thread
    api_reserve: float = 0.1  # share of DailyApiRequests never used, left for the org's own apps
    lookback_days: int = 30  # how far back the first run of a source reaches
    timeout_s: float = 120.0
    retry_wait_s: float = 1.0  # base of the exponential backoff between retries
    write_batch: int = 20_000  # records buffered per org x source before one transaction
    elf_event_types: tuple[str, ...] = (
        "Login", "Logout", "ApiTotalUsage", "API", "RestApi", "BulkApi2",
    )  # fmt: skip
    # How often each source is expected to deliver, in hours, by source name (`oauth_token =
    # 168` for a weekly export); a source not named here is judged on its own history.
    cadence_hours: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookConfig:
    """`[webhooks.NAME]` (ingest/config/webhooks.py): a sink the nightly job posts alerts to."""

    name: str
    kind: str  # "json" (signed) or "slack"
    url: str | None = None  # the URL, when the file gives it in clear
    url_ref: SecretRef | None = None  # ... or where it lives, when the URL is itself a secret
    secret: SecretRef | None = None  # the HMAC-SHA256 key
    min_severity: str = "high"
    timeout_s: float = 10.0
    max_attempts: int = 3  # per alert and run
    retry_wait_s: float = 1.0  # backoff base within a run
    ca_bundle: Path | None = None


@dataclass(frozen=True)
class Config:
    path: Path | None
    apps: Mapping[str, AppConfig] = field(default_factory=dict)
    orgs: Mapping[str, OrgConfig] = field(default_factory=dict)
    detectors: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    geoip: GeoIpConfig = field(default_factory=GeoIpConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    dashboard: DashboardConfig = field(default_factory=DashboardConfig)
    store: StoreConfig = field(default_factory=StoreConfig)  # [store]: retention
    webhooks: Mapping[str, WebhookConfig] = field(default_factory=dict)  # [webhooks.NAME]

    def app(self, name: str | None) -> AppConfig | None:
        """The configured app of this name; Salesforce shows names in varying case."""
        if name is None:
            return None
        return next((app for key, app in self.apps.items() if key.lower() == name.lower()), None)

    def org_alias(self, org_id: str) -> str | None:
        for org in self.orgs.values():
            if org.org_id == org_id:
                return org.alias
        return None
