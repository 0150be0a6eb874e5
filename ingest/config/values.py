"""Reading one value of the configuration: its type, and whether it can be right.

Every error starts with the dotted key path at fault, shows the bad value escaped (a line feed
as `\\n`, never a secret: secrets are references, see `secret_refs`) and says what a valid value
looks like.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError

SHOWN_CHARS = 80  # of a bad value in an error message


def shown(value: Any) -> str:
    """A bad value for an error message: quoted, control characters escaped, cut short."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def table(key: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a table")
    return value


def only_keys(key: str, body: Mapping[str, Any], allowed: set[str]) -> None:
    for name in body:
        if name not in allowed:
            where = f"{key}.{name}" if key else name
            raise ConfigError(
                f"{where}: unknown key (expected one of {', '.join(sorted(allowed))})"
            )


def opt_str(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected a string")
    return value


def one_line(key: str, value: str | None, example: str) -> str | None:
    """A value that goes into a mail or HTTP header: a control character (CR, LF, NUL, tab…)
    or a Unicode line separator there would end the header and start another."""
    if value is not None and any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in value):
        raise ConfigError(
            f"{key}: {shown(value)} contains a line break or another control character; "
            f"expected one line of plain text, e.g. {example}"
        )
    return value


def web_url(key: str, value: str | None) -> str | None:
    """A link people click (in the digest): http(s) with a host, nothing a browser would run."""
    if value is None:
        return None
    one_line(key, value, "https://tokensentry.example.com")
    parts = urlsplit(value.strip())
    if parts.scheme.lower() not in ("https", "http") or not parts.netloc or " " in value:
        raise ConfigError(
            f"{key}: {shown(value)} is not a web address; expected an https:// (or http://) URL "
            "with a host, e.g. https://tokensentry.example.com"
        )
    return value


def positive(key: str, value: Any, example: str | None = None) -> None:
    """A threshold or a window: a finite number above zero (zero or less cannot be right:
    `max_kmh = -5` makes every pair of logins impossible travel)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{key}: expected a number, not {shown(value)}")
    if not (value > 0 and math.isfinite(value)):
        valid = f"e.g. {example}" if example else "or leave the key out to keep the default"
        raise ConfigError(
            f"{key}: {shown(value)} cannot be right; expected a number above 0, {valid}"
        )


def require_https(key: str, url: str) -> None:
    if not url.startswith("https://"):
        raise ConfigError(f"{key}: must be an https:// URL, not {url!r}")


def path(base_dir: Path, value: str | None) -> Path | None:
    if value is None:
        return None
    candidate = Path(value).expanduser()
    return candidate if candidate.is_absolute() else base_dir / candidate
