"""Reading the fields of one Salesforce record: flattened, any key case, validated.

Shared by every normalizer (`records`, `tokens`, the sources); each reader raises
`RecordProblem` with a reason an analyst can act on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..load import SALESFORCE_IP_MARKER
from ..netlist import parse_ip
from ..sfid import is_salesforce_id, to18
from ..timeparse import parse_salesforce_time


class RecordProblem(Exception):
    """This record cannot be loaded; the message says why."""


class MissingOrg(Exception):
    """The record has no org id and none was given with --org."""


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Lower-cased dotted keys: {"LoginGeo": {"City": x}} and "LOGINGEO.CITY" → "logingeo.city"."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}".lower()
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _text(flat: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = flat.get(name.lower())
        if value not in (None, ""):
            return str(value)
    return None


def _time(flat: Mapping[str, Any], name: str, *, required: bool) -> datetime | None:
    value = _text(flat, name)
    if value is None:
        if required:
            raise RecordProblem(f"{name} is missing")
        return None
    try:
        return parse_salesforce_time(value)
    except ValueError:
        raise RecordProblem(f"{name} {value!r} is not a Salesforce date-time") from None


def _sf_id(flat: Mapping[str, Any], name: str) -> str | None:
    value = _text(flat, name)
    if value is None:
        return None
    if not is_salesforce_id(value):
        raise RecordProblem(f"{name} {value!r} is not a 15- or 18-character Salesforce id")
    return to18(value)


def _number(flat: Mapping[str, Any], name: str) -> float | None:
    value = flat.get(name.lower())
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise RecordProblem(f"{name} {value!r} is not a number") from None


def _ip(value: str | None, name: str = "SourceIp") -> str | None:
    """The address, or None for Salesforce's own `Salesforce.com IP` marker (documented for
    requests Salesforce makes itself); anything else is a problem, never an event's IP."""
    if value is None or value.strip().lower() == SALESFORCE_IP_MARKER:
        return None
    address = parse_ip(value)
    if address is None:
        raise RecordProblem(
            f'{name} {value!r} is neither an IP address nor Salesforce\'s "Salesforce.com IP"'
        )
    return str(address)


def _record_key(flat: Mapping[str, Any], *fields: str) -> str:
    for name in fields:
        value = _text(flat, name)
        if value:
            return value.rsplit("/", 1)[-1] if name == "attributes.url" else value
    canonical = json.dumps(flat, sort_keys=True, default=str)
    return hashlib.md5(canonical.encode()).hexdigest()


def _org(default_org: str | None) -> str:
    if default_org is None:
        raise MissingOrg()
    return default_org
