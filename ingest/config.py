"""The TOML configuration (CONTRACT §3), parsed into frozen dataclasses.

Secrets are never values in the file: they are `{ env = "VAR" }` or `{ file = "path" }`
references, resolved only by the code that needs them (so `detect` runs without Salesforce
credentials). Every error starts with the dotted key path at fault.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .netlist import IpAllowlist
from .sfid import is_salesforce_id, to18
from .store_settings import StoreConfig, parse_store

DEFAULT_LOGIN_URL = "https://login.salesforce.com"
AUTH_METHODS = {
    "jwt": {"username", "consumer_key", "private_key"},
    "client_credentials": {"consumer_key", "consumer_secret"},
    "access_token": {"token"},
}
_SECRET_FIELDS = {"private_key", "consumer_secret", "token", "password"}


@dataclass(frozen=True)
class SecretRef:
    """Where a secret lives. `repr` never shows the value, because it never holds it."""

    key_path: str
    env: str | None = None
    file: Path | None = None

    def resolve(self) -> str:
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                # Worded so the key path is not followed by ": ": every message is scrubbed
                # on its way out, and `password: word` reads as a secret assignment there.
                raise ConfigError(
                    f"environment variable {self.env} (for {self.key_path}) is not set"
                )
            return value
        assert self.file is not None
        try:
            return self.file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot read {self.file} (for {self.key_path}): {exc.strerror}"
            ) from None

    def describe(self) -> str:
        return f"env {self.env}" if self.env else f"file {self.file}"


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


def load(path: Path | str, *, required: bool = False) -> Config:
    """Read and validate the configuration; a missing file means "no orgs, no allowlists"."""
    config_path = Path(path)
    if not config_path.exists():
        if required:
            raise ConfigError(f"{config_path}: configuration file not found")
        return Config(path=None)
    try:
        document = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{config_path}: cannot read: {exc.strerror}") from None
    return parse(document, base_dir=config_path.parent, path=config_path)


def parse(document: Mapping[str, Any], *, base_dir: Path, path: Path | None = None) -> Config:
    _only_keys(
        "",
        document,
        {"apps", "orgs", "detectors", "geoip", "digest", "ingest", "dashboard", "store"},
    )
    apps = {
        name: _app(f"apps.{name}", name, body)
        for name, body in _table("apps", document.get("apps", {})).items()
    }
    orgs = {
        alias: _org(f"orgs.{alias}", alias, body, base_dir)
        for alias, body in _table("orgs", document.get("orgs", {})).items()
    }
    detectors = {
        detector_id: dict(_table(f"detectors.{detector_id}", body))
        for detector_id, body in _table("detectors", document.get("detectors", {})).items()
    }
    geoip_body = _table("geoip", document.get("geoip", {}))
    _only_keys("geoip", geoip_body, {"city_db", "asn_db"})
    geoip = GeoIpConfig(
        city_db=_path(base_dir, _opt_str("geoip.city_db", geoip_body.get("city_db"))),
        asn_db=_path(base_dir, _opt_str("geoip.asn_db", geoip_body.get("asn_db"))),
    )
    digest = _digest(_table("digest", document.get("digest", {})), base_dir)
    ingest = _ingest(_table("ingest", document.get("ingest", {})))
    dashboard_body = _table("dashboard", document.get("dashboard", {}))
    _only_keys("dashboard", dashboard_body, {"user_header"})
    dashboard = DashboardConfig(
        user_header=_opt_str("dashboard.user_header", dashboard_body.get("user_header"))
    )
    return Config(
        path=path,
        apps=apps,
        orgs=orgs,
        detectors=detectors,
        geoip=geoip,
        digest=digest,
        ingest=ingest,
        dashboard=dashboard,
        store=parse_store(document.get("store", {})),
    )


def _ingest(body: Mapping[str, Any]) -> IngestConfig:
    defaults = IngestConfig()
    _only_keys("ingest", body, set(vars(defaults)))
    values: dict[str, Any] = {}
    for name, default in vars(defaults).items():
        if name not in body:
            continue
        value = body[name]
        if isinstance(default, tuple):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"ingest.{name}: expected a list of strings")
            value = tuple(value)
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"ingest.{name}: expected a number")
        elif value < 0 or (name == "workers" and not 1 <= value <= 64):
            raise ConfigError(f"ingest.{name}: out of range")
        elif name == "api_reserve" and value >= 1:
            raise ConfigError("ingest.api_reserve: a share of the daily limit, below 1")
        values[name] = int(value) if isinstance(default, int) else value
    return IngestConfig(**values)


def _app(key: str, name: str, body: Any) -> AppConfig:
    body = _table(key, body)
    _only_keys(key, body, {"consumer_key", "allowlist", "known_egress"})
    return AppConfig(
        name=name,
        consumer_key=_opt_str(f"{key}.consumer_key", body.get("consumer_key")),
        allowlist=_allowlist(f"{key}.allowlist", body.get("allowlist")),
        known_egress=_allowlist(f"{key}.known_egress", body.get("known_egress")),
    )


def _allowlist(key: str, value: Any) -> IpAllowlist | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list of CIDRs, addresses or start-end ranges")
    try:
        return IpAllowlist.parse(value)
    except ValueError as exc:
        raise ConfigError(f"{key}{exc}") from None


def _org(key: str, alias: str, body: Any, base_dir: Path) -> OrgConfig:
    body = _table(key, body)
    _only_keys(
        key,
        body,
        {"org_id", "kind", "instance_url", "login_url", "ca_bundle", "auth", "sources", "settings"},
    )
    org_id = _opt_str(f"{key}.org_id", body.get("org_id"))
    if org_id is not None:
        if not is_salesforce_id(org_id):
            raise ConfigError(f"{key}.org_id: {org_id!r} is not a 15- or 18-character org id")
        org_id = to18(org_id)
    kind = body.get("kind", "subscriber")
    if kind not in ("subscriber", "partner"):
        raise ConfigError(f'{key}.kind: must be "subscriber" or "partner", not {kind!r}')
    try:
        connection = _connection(key, body, base_dir)
    except ConfigError as exc:
        # CONTRACT §8: a broken connection setting fails this org's ingest only; import,
        # detect, alerts and the other orgs still run.
        return OrgConfig(
            alias, org_id, kind, "", DEFAULT_LOGIN_URL, None, connection_error=str(exc)
        )
    return OrgConfig(alias=alias, org_id=org_id, kind=kind, **connection)


def _connection(key: str, body: Mapping[str, Any], base_dir: Path) -> dict[str, Any]:
    instance_url = _opt_str(f"{key}.instance_url", body.get("instance_url"))
    auth = _auth(f"{key}.auth", body.get("auth"), base_dir)
    if not instance_url:
        if auth is None and body.get("org_id") is not None:
            return {"instance_url": "", "login_url": DEFAULT_LOGIN_URL, "auth": None}
        raise ConfigError(f"{key}.instance_url: missing")
    _require_https(f"{key}.instance_url", instance_url)
    # Client credentials are served on the org's My Domain host only; JWT and the others keep
    # login.salesforce.com, which routes to the org named in the assertion.
    default_login = (
        instance_url
        if auth is not None and auth.method == "client_credentials"
        else DEFAULT_LOGIN_URL
    )
    login_url = _opt_str(f"{key}.login_url", body.get("login_url")) or default_login
    _require_https(f"{key}.login_url", login_url)
    sources = body.get("sources")
    if sources is not None and (
        not isinstance(sources, list) or not all(isinstance(s, str) for s in sources)
    ):
        raise ConfigError(f"{key}.sources: expected a list of source ids")
    return {
        "instance_url": instance_url.rstrip("/"),
        "login_url": login_url.rstrip("/"),
        "auth": auth,
        "ca_bundle": _path(base_dir, _opt_str(f"{key}.ca_bundle", body.get("ca_bundle"))),
        "sources": tuple(sources) if sources is not None else None,
        "settings": dict(_table(f"{key}.settings", body.get("settings", {}))),
    }


def _auth(key: str, body: Any, base_dir: Path) -> AuthConfig | None:
    if body is None:
        return None
    body = _table(key, body)
    method = body.get("method")
    if method not in AUTH_METHODS:
        raise ConfigError(f"{key}.method: must be one of {', '.join(sorted(AUTH_METHODS))}")
    required = AUTH_METHODS[method]
    _only_keys(key, body, required | {"method"})
    values: dict[str, Any] = {"method": method}
    for name in sorted(required):
        if name not in body:
            raise ConfigError(f"{key}.{name}: missing (needed by method {method!r})")
        if name in _SECRET_FIELDS:
            values[name] = secret_ref(f"{key}.{name}", body[name], base_dir)
        else:
            values[name] = _opt_str(f"{key}.{name}", body[name])
    return AuthConfig(**values)


def _digest(body: Mapping[str, Any], base_dir: Path) -> DigestConfig:
    _only_keys(
        "digest",
        body,
        {
            "smtp_host",
            "smtp_port",
            "security",
            "username",
            "password",
            "from",
            "to",
            "dashboard_url",
            "send_when_empty",
            "ca_bundle",
            "max_per_severity",
        },
    )
    security = body.get("security", "starttls")
    if security not in ("starttls", "tls", "none"):
        raise ConfigError('digest.security: must be "starttls", "tls" or "none"')
    port = body.get("smtp_port", 587)
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError("digest.smtp_port: must be a port number")
    to = body.get("to", [])
    if not isinstance(to, list) or not all(isinstance(a, str) for a in to):
        raise ConfigError("digest.to: expected a list of addresses")
    password = body.get("password")
    if security == "none" and (password or body.get("username")):
        raise ConfigError(
            "digest.security: credentials are never sent over an unencrypted connection; "
            'use "starttls" or "tls", or remove digest.username and digest.password'
        )
    cap = body.get("max_per_severity", 10)
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        raise ConfigError("digest.max_per_severity: expected a whole number of at least 1")
    send_when_empty = body.get("send_when_empty", False)
    if not isinstance(send_when_empty, bool):
        raise ConfigError("digest.send_when_empty: expected true or false")
    return DigestConfig(
        smtp_host=_opt_str("digest.smtp_host", body.get("smtp_host")),
        smtp_port=port,
        security=security,
        username=_opt_str("digest.username", body.get("username")),
        password=secret_ref("digest.password", password, base_dir) if password else None,
        sender=_opt_str("digest.from", body.get("from")),
        to=tuple(to),
        dashboard_url=_opt_str("digest.dashboard_url", body.get("dashboard_url")),
        send_when_empty=send_when_empty,
        ca_bundle=_path(base_dir, _opt_str("digest.ca_bundle", body.get("ca_bundle"))),
        max_per_severity=cap,
    )


def secret_ref(key: str, value: Any, base_dir: Path) -> SecretRef:
    if isinstance(value, Mapping) and set(value) == {"env"} and isinstance(value["env"], str):
        return SecretRef(key_path=key, env=value["env"])
    if isinstance(value, Mapping) and set(value) == {"file"} and isinstance(value["file"], str):
        return SecretRef(key_path=key, file=_path(base_dir, value["file"]))
    raise ConfigError(
        f'{key}: write secrets as {{ env = "VAR" }} or {{ file = "path" }}, never inline'
    )


def _table(key: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a table")
    return value


def _only_keys(key: str, body: Mapping[str, Any], allowed: set[str]) -> None:
    for name in body:
        if name not in allowed:
            where = f"{key}.{name}" if key else name
            raise ConfigError(
                f"{where}: unknown key (expected one of {', '.join(sorted(allowed))})"
            )


def _opt_str(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected a string")
    return value


def _require_https(key: str, url: str) -> None:
    if not url.startswith("https://"):
        raise ConfigError(f"{key}: must be an https:// URL, not {url!r}")


def _path(base_dir: Path, value: str | None) -> Path | None:
    if value is None:
        return None
    candidate = Path(value).expanduser()
    return candidate if candidate.is_absolute() else base_dir / candidate
