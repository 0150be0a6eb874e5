"""Keep secrets out of the store: token-like fields are replaced by a short fingerprint.

OauthToken rows carry `DeleteToken` (enough to revoke a user's token) and `AccessToken`;
partners sometimes log a `refresh_token` by mistake. Raw payloads are kept verbatim except for
these keys, whose values become `[redacted sha256:…]` so equal secrets still compare equal.
"""

from __future__ import annotations

import hashlib
from typing import Any

SECRET_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "consumer_secret",
        "password",
        "assertion",
        "code",
        "code_verifier",
        "private_key",
        "privatekey",
        "session_id",
        "sessionid",
        "authorization",
        "accesstoken",
        "deletetoken",
        "requesttoken",
        "token",
        "signature",
    }
)


def fingerprint(value: str) -> str:
    return "[redacted sha256:" + hashlib.sha256(value.encode()).hexdigest()[:16] + "]"


def _has_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return any(
            (key.lower() in SECRET_KEYS and item not in (None, "")) or _has_secret(item)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return any(_has_secret(item) for item in value)
    return False


def redact(value: Any) -> Any:
    """`value` with secret fields replaced; returned as is (not copied) when it holds none."""
    if not _has_secret(value):
        return value
    return _redact(value)


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: (
                fingerprint(str(item))
                if key.lower() in SECRET_KEYS and item not in (None, "")
                else _redact(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact(item) for item in value]
    return value
