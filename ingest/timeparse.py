"""Timestamps as Salesforce writes them, and the `WHEN` arguments of the command line.

Everything inside tokensentry is a naive `datetime` in UTC (DuckDB `TIMESTAMP`), so that
comparisons never depend on the machine's time zone.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# SOQL JSON writes offsets without a colon (+0000); Python 3.11 wants +00:00 in some forms.
_OFFSET_NO_COLON = re.compile(r"([+-]\d{2})(\d{2})$")
_ELF_COMPACT = re.compile(r"^(\d{14})(?:\.(\d{1,6}))?$")


def utc_naive(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def parse_iso(text: str) -> datetime:
    """Parse ISO 8601 as Salesforce and partners write it; naive values are taken as UTC."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    value = _OFFSET_NO_COLON.sub(r"\1:\2", value)
    return utc_naive(datetime.fromisoformat(value))


def parse_salesforce_time(text: str) -> datetime:
    """Parse an ELF `TIMESTAMP` (yyyyMMddHHmmss.SSS) or any ISO 8601 form."""
    value = str(text).strip()
    match = _ELF_COMPACT.match(value)
    if match:
        fraction = (match.group(2) or "0").ljust(6, "0")
        return datetime.strptime(match.group(1), "%Y%m%d%H%M%S").replace(microsecond=int(fraction))
    return parse_iso(value)


def parse_when(text: str, now: datetime) -> datetime:
    """`24h`, `7d`, `90m` (relative to `now`) or an ISO 8601 timestamp, as naive UTC."""
    match = _RELATIVE.match(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return utc_naive(now) - timedelta(**{_UNITS[unit]: amount})
    try:
        return parse_iso(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a span like 24h / 7d nor an ISO 8601 timestamp"
        ) from None


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
