"""The TOML configuration (CONTRACT §3), parsed into frozen dataclasses.

Secrets are never values in the file: they are `{ env = "VAR" }` or `{ file = "path" }`
references, resolved only by the code that needs them (so `detect` runs without Salesforce
credentials). Every error starts with the dotted key path at fault; a value that cannot be right
(a threshold of zero or less, a link that is not http(s), a line break in a mail header) is
refused like a syntax error: the CLI exits 2 naming the key.

One module per part: `model` (the dataclasses), `secret_refs`, `orgs` ([apps], [orgs]), `digest`,
`tuning` ([ingest], [detectors]) and `values` (reading and checking one value).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..store_settings import StoreConfig, parse_store
from . import digest as _digest_section
from . import orgs as _orgs_section
from . import tuning as _tuning_section
from . import webhooks as _webhooks_section
from .model import (
    DEFAULT_LOGIN_URL,
    AppConfig,
    AuthConfig,
    Config,
    DashboardConfig,
    DigestConfig,
    GeoIpConfig,
    IngestConfig,
    OrgConfig,
    WebhookConfig,
)
from .orgs import AUTH_METHODS
from .secret_refs import SecretRef, secret_ref
from .values import one_line, only_keys, opt_str, table
from .values import path as file_path

__all__ = [
    "AUTH_METHODS",
    "DEFAULT_LOGIN_URL",
    "AppConfig",
    "AuthConfig",
    "Config",
    "DashboardConfig",
    "DigestConfig",
    "GeoIpConfig",
    "IngestConfig",
    "OrgConfig",
    "SecretRef",
    "StoreConfig",
    "WebhookConfig",
    "load",
    "parse",
    "secret_ref",
]


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
    only_keys(
        "",
        document,
        {
            "apps",
            "orgs",
            "detectors",
            "geoip",
            "digest",
            "ingest",
            "dashboard",
            "store",
            "webhooks",
        },
    )
    apps = {
        name: _orgs_section.app(f"apps.{name}", name, body)
        for name, body in table("apps", document.get("apps", {})).items()
    }
    orgs = {
        alias: _orgs_section.org(f"orgs.{alias}", alias, body, base_dir)
        for alias, body in table("orgs", document.get("orgs", {})).items()
    }
    detectors = _tuning_section.detectors(table("detectors", document.get("detectors", {})))
    geoip_body = table("geoip", document.get("geoip", {}))
    only_keys("geoip", geoip_body, {"city_db", "asn_db"})
    geoip = GeoIpConfig(
        city_db=file_path(base_dir, opt_str("geoip.city_db", geoip_body.get("city_db"))),
        asn_db=file_path(base_dir, opt_str("geoip.asn_db", geoip_body.get("asn_db"))),
    )
    digest = _digest_section.digest(table("digest", document.get("digest", {})), base_dir)
    ingest = _tuning_section.ingest(table("ingest", document.get("ingest", {})))
    dashboard_body = table("dashboard", document.get("dashboard", {}))
    only_keys("dashboard", dashboard_body, {"user_header"})
    user_header = opt_str("dashboard.user_header", dashboard_body.get("user_header"))
    dashboard = DashboardConfig(
        user_header=one_line("dashboard.user_header", user_header, "X-Forwarded-User")
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
        webhooks=_webhooks_section.webhooks(
            table("webhooks", document.get("webhooks", {})), base_dir
        ),
    )
