"""`[digest]`: the SMTP relay, the addresses and the link the nightly e-mail carries.

Every value that ends up in a mail header (host, user, sender, recipients) is one line of text:
a CR or LF there would let the file add headers (`Bcc:`) or end in a traceback at send time.
The dashboard link must be http(s): a `javascript:` one would make every link a script.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .model import DigestConfig
from .secret_refs import secret_ref
from .values import one_line, only_keys, opt_str, path, web_url


def digest(body: Mapping[str, Any], base_dir: Path) -> DigestConfig:
    only_keys(
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
            "enabled",
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
    for index, address in enumerate(to):
        one_line(f"digest.to[{index}]", address, "secops@example.com")
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
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError("digest.enabled: expected true or false")
    link = opt_str("digest.dashboard_url", body.get("dashboard_url"))
    return DigestConfig(
        smtp_host=_header(body, "smtp_host", "smtp.example.com"),
        smtp_port=port,
        security=security,
        username=_header(body, "username", "tokensentry"),
        password=secret_ref("digest.password", password, base_dir) if password else None,
        sender=_header(body, "from", "tokensentry@example.com"),
        to=tuple(to),
        dashboard_url=web_url("digest.dashboard_url", link),
        send_when_empty=send_when_empty,
        ca_bundle=path(base_dir, opt_str("digest.ca_bundle", body.get("ca_bundle"))),
        max_per_severity=cap,
        enabled=enabled,
    )


def _header(body: Mapping[str, Any], name: str, example: str) -> str | None:
    """A [digest] string that ends up in a mail header or the SMTP dialogue: one line."""
    key = f"digest.{name}"
    return one_line(key, opt_str(key, body.get(name)), example)
