"""How a person reads a time, on every surface: to the second, in a named time zone.

`shown(moment, zone)` is the one formatting of a point in time for people: the web pages (in
the viewer's browser zone), the digest (in each alert's org's zone, Organization.TimeZoneSidKey)
and the CLI's tables (in the zone of the terminal, `TZ`). It never prints fractions of a second
and always names the zone, so "09:00:00 CET" and "08:00:00 UTC" cannot be mistaken for two
times. Machine formats (JSON, CSV, Parquet) stay ISO 8601 UTC (CONTRACT §5): `records.iso_z`.

The store keeps naive UTC timestamps; a naive value is read as UTC, an aware one is converted.
An unknown zone name (a string from Salesforce or a browser) falls back to UTC, never an error.
"""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

FORMAT = "%Y-%m-%d %H:%M:%S %Z"
EMPTY = "-"


def zone(name: str | tzinfo | None) -> tzinfo:
    """The zone called `name`; UTC when it is empty or not an IANA name."""
    if isinstance(name, tzinfo):
        return name
    if not name:
        return UTC
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def local_zone() -> tzinfo:
    """The zone of this terminal, for the CLI's tables: `TZ` when it names an IANA zone, else
    the system's (/etc/localtime's name), else the current offset."""
    name = os.environ.get("TZ", "").lstrip(":")
    if not name:
        with contextlib.suppress(OSError):
            target = os.readlink("/etc/localtime")
            name = target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else ""
    if name:
        with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
            return ZoneInfo(name)
    return datetime.now().astimezone().tzinfo or UTC


def shown(moment: object, where: str | tzinfo | None = None) -> str:
    """`2026-11-29 14:03:07 UTC` (or `… CET`): to the second, in `where`, `-` for nothing."""
    if moment is None or moment is pd.NaT or (isinstance(moment, float) and moment != moment):
        return EMPTY
    if isinstance(moment, str):
        try:
            moment = pd.Timestamp(moment)
        except ValueError:
            return moment
    stamp = pd.Timestamp(moment)
    if pd.isna(stamp):
        return EMPTY
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(UTC)
    return stamp.tz_convert(zone(where)).floor("s").strftime(FORMAT)


def shown_series(values: pd.Series, where: str | tzinfo | None = None) -> pd.Series:
    """`shown` over a column of timestamps (the web's tables), set-wise."""
    stamps = pd.to_datetime(values, utc=True)
    local = stamps.dt.tz_convert(zone(where)).dt.floor("s")
    return local.dt.strftime(FORMAT).where(local.notna(), EMPTY)
