"""`[webhooks.NAME]`: where the nightly job posts each new alert, and how.

```toml
[webhooks.soc]
url = "https://siem.example.com/hooks/tokensentry"  # or { env = "VAR" } / { file = "path" }
kind = "json"                       # "json" (signed, HMAC-SHA256) or "slack" (incoming webhook)
secret = { env = "TS_WEBHOOK_KEY" } # the HMAC key: required for "json", optional for "slack"
min_severity = "high"               # post alerts at this severity or above (default high)
timeout_s = 10                      # per request
max_attempts = 3                    # per alert and run; an unacknowledged post is retried next run
retry_wait_s = 1.0                  # backoff: 1 s, 2 s, 4 s ... between attempts within a run
ca_bundle = "certs/corp-ca.pem"     # optional extra CA (a TLS-inspecting proxy, a test server)
```

The URL may itself be a secret (a Slack incoming-webhook URL is one: whoever has it can post),
so it can be a reference like any secret; it is never logged or stored, the webhook's NAME is.
A plain-text URL must be https://, or http:// to this machine's loopback only. A `{ env }` or
`{ file }` URL is checked the same way when it is resolved, at send time.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError
from .model import WebhookConfig
from .secret_refs import secret_ref
from .values import one_line, only_keys, opt_str, path, positive, shown, table

KINDS = ("json", "slack")
SEVERITIES = ("info", "low", "medium", "high", "critical")
KEYS = {
    "url", "kind", "secret", "min_severity", "timeout_s", "max_attempts", "retry_wait_s",
    "ca_bundle",
}  # fmt: skip


def webhooks(body: Mapping[str, Any], base_dir: Path) -> dict[str, WebhookConfig]:
    return {
        name: webhook(f"webhooks.{name}", name, table(f"webhooks.{name}", hook), base_dir)
        for name, hook in body.items()
    }


def webhook(key: str, name: str, body: Mapping[str, Any], base_dir: Path) -> WebhookConfig:
    only_keys(key, body, KEYS)
    one_line(f"{key} (its name)", name, "soc")
    kind = body.get("kind", "json")
    if kind not in KINDS:
        raise ConfigError(f'{key}.kind: {shown(kind)} is not "json" or "slack"')
    raw_url = body.get("url")
    if raw_url is None:
        raise ConfigError(f'{key}.url: missing; e.g. url = "https://siem.example.com/hook"')
    url = url_ref = None
    if isinstance(raw_url, str):
        url = check_url(f"{key}.url", raw_url)
    else:
        url_ref = secret_ref(f"{key}.url", raw_url, base_dir)
    secret = body.get("secret")
    if secret is None and kind == "json":
        raise ConfigError(
            f"{key}.secret: a json webhook is signed (HMAC-SHA256) so the receiver can tell "
            'its posts from forged ones; give the key as { env = "VAR" } or { file = "path" }'
        )
    min_severity = body.get("min_severity", "high")
    if min_severity not in SEVERITIES:
        raise ConfigError(f"{key}.min_severity: {shown(min_severity)} is not one of {SEVERITIES}")
    attempts = body.get("max_attempts", 3)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 10:
        raise ConfigError(f"{key}.max_attempts: expected a whole number from 1 to 10")
    timeout = body.get("timeout_s", 10)
    positive(f"{key}.timeout_s", timeout, "10")
    wait = body.get("retry_wait_s", 1.0)
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= 60:
        raise ConfigError(f"{key}.retry_wait_s: expected a number of seconds from 0 to 60")
    return WebhookConfig(
        name=name,
        kind=kind,
        url=url,
        url_ref=url_ref,
        secret=secret_ref(f"{key}.secret", secret, base_dir) if secret is not None else None,
        min_severity=min_severity,
        timeout_s=float(timeout),
        max_attempts=attempts,
        retry_wait_s=float(wait),
        ca_bundle=path(base_dir, opt_str(f"{key}.ca_bundle", body.get("ca_bundle"))),
    )


def check_url(key: str, url: str, *, show: bool = True) -> str:
    """https://, or http:// to loopback only (a post in clear text over a network would hand
    the alert, and the signature's timing, to anyone on the path). `show=False` keeps a secret
    URL out of the message."""
    value = shown(url) if show else "the URL"
    if any(ch.isspace() for ch in url) or not url.isprintable():
        raise ConfigError(f"{key}: {value} contains a space or a control character")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"{key}: {value} is not an https:// URL with a host")
    if parts.username or parts.password:
        raise ConfigError(f"{key}: {value} carries credentials; put the secret in `secret`")
    if scheme == "http" and not _loopback(parts.hostname):
        raise ConfigError(
            f"{key}: {value} is plain http to another host; use https:// (http:// only to "
            "127.0.0.1, ::1 or localhost)"
        )
    return url


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
