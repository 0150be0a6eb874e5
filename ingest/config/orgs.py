"""`[apps.*]` and `[orgs.*]`: the connected apps with their allowlists, and how each org is
reached (instance, login host, auth method and its secret references).

A broken connection setting does not refuse the file: it is kept on the org
(`connection_error`) and fails that org's ingest only (CONTRACT §8).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..netlist import IpAllowlist
from ..sfid import is_salesforce_id, to18
from .model import DEFAULT_LOGIN_URL, AppConfig, AuthConfig, OrgConfig
from .secret_refs import secret_ref
from .values import only_keys, opt_str, path, require_https, table

AUTH_METHODS = {
    "jwt": {"username", "consumer_key", "private_key"},
    "client_credentials": {"consumer_key", "consumer_secret"},
    "access_token": {"token"},
}
_SECRET_FIELDS = {"private_key", "consumer_secret", "token", "password"}


def app(key: str, name: str, body: Any) -> AppConfig:
    body = table(key, body)
    only_keys(key, body, {"consumer_key", "allowlist", "known_egress"})
    return AppConfig(
        name=name,
        consumer_key=opt_str(f"{key}.consumer_key", body.get("consumer_key")),
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


def org(key: str, alias: str, body: Any, base_dir: Path) -> OrgConfig:
    body = table(key, body)
    only_keys(
        key,
        body,
        {"org_id", "kind", "instance_url", "login_url", "ca_bundle", "auth", "sources", "settings"},
    )
    org_id = opt_str(f"{key}.org_id", body.get("org_id"))
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
    instance_url = opt_str(f"{key}.instance_url", body.get("instance_url"))
    auth = _auth(f"{key}.auth", body.get("auth"), base_dir)
    if not instance_url:
        if auth is None and body.get("org_id") is not None:
            return {"instance_url": "", "login_url": DEFAULT_LOGIN_URL, "auth": None}
        raise ConfigError(f"{key}.instance_url: missing")
    require_https(f"{key}.instance_url", instance_url)
    # Client credentials are served on the org's My Domain host only; JWT and the others keep
    # login.salesforce.com, which routes to the org named in the assertion.
    default_login = (
        instance_url
        if auth is not None and auth.method == "client_credentials"
        else DEFAULT_LOGIN_URL
    )
    login_url = opt_str(f"{key}.login_url", body.get("login_url")) or default_login
    require_https(f"{key}.login_url", login_url)
    sources = body.get("sources")
    if sources is not None and (
        not isinstance(sources, list) or not all(isinstance(s, str) for s in sources)
    ):
        raise ConfigError(f"{key}.sources: expected a list of source ids")
    return {
        "instance_url": instance_url.rstrip("/"),
        "login_url": login_url.rstrip("/"),
        "auth": auth,
        "ca_bundle": path(base_dir, opt_str(f"{key}.ca_bundle", body.get("ca_bundle"))),
        "sources": tuple(sources) if sources is not None else None,
        "settings": dict(table(f"{key}.settings", body.get("settings", {}))),
    }


def _auth(key: str, body: Any, base_dir: Path) -> AuthConfig | None:
    if body is None:
        return None
    body = table(key, body)
    method = body.get("method")
    if method not in AUTH_METHODS:
        raise ConfigError(f"{key}.method: must be one of {', '.join(sorted(AUTH_METHODS))}")
    required = AUTH_METHODS[method]
    only_keys(key, body, required | {"method"})
    values: dict[str, Any] = {"method": method}
    for name in sorted(required):
        if name not in body:
            raise ConfigError(f"{key}.{name}: missing (needed by method {method!r})")
        if name in _SECRET_FIELDS:
            values[name] = secret_ref(f"{key}.{name}", body[name], base_dir)
        else:
            values[name] = opt_str(f"{key}.{name}", body[name])
    return AuthConfig(**values)
