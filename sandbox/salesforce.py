"""The shapes Salesforce serves, shared by every world and by the fake: ids, SOQL date-times,
the Organization row, EventLogFile listings and CSV bodies, the partner's token log.

Event log file CSVs: every value quoted, columns looked up by name, one header per file.
SOQL results: the REST API's `{"totalSize", "done", "records": [...]}` pages. The partner's
token log: JSON Lines (CONTRACT §4).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from . import elf

API = "/services/data/v62.0"


def stable_id(prefix: str, *parts: object) -> str:
    """A stable 18-character Salesforce-shaped id: the same parts, the same id."""
    digest = hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest().upper()
    return (prefix + digest)[:18]


def soql_time(at: datetime) -> str:
    """A SOQL date-time as the REST API writes it, to the second."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def soql_time_ms(at: datetime) -> str:
    """A SOQL date-time as the REST API writes it, to the millisecond."""
    return f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}+0000"


def organization(org_id: str, time_zone: str | None, name: str = "") -> dict[str, Any]:
    """The org's Organization row (what the `organization` source reads: its time zone)."""
    return {
        "attributes": {"type": "Organization", "url": f"{API}/sobjects/Organization/{org_id}"},
        "Id": org_id,
        "Name": name or None,
        "TimeZoneSidKey": time_zone,
        "InstanceName": "NA224",
        "IsSandbox": False,
        "OrganizationType": "Enterprise Edition",
    }


def event_log_file(
    record_id: str,
    event_type: str,
    log_date: str,
    interval: str,
    sequence: int,
    created: datetime,
    length: int,
) -> dict[str, Any]:
    """One EventLogFile listing record (its body is served at `LogFile`)."""
    return {
        "attributes": {"type": "EventLogFile", "url": f"{API}/sobjects/EventLogFile/{record_id}"},
        "Id": record_id,
        "EventType": event_type,
        "LogDate": log_date,
        "Interval": interval,
        "Sequence": sequence,
        "CreatedDate": soql_time(created),
        "LogFileLength": float(length),
        "LogFile": f"{API}/sobjects/EventLogFile/{record_id}/LogFile",
    }


def elf_csv_bytes(
    rows: Iterable[Mapping[str, str]], event_type: str, *, line_end: str = "\n"
) -> bytes:
    """An event log file body: its type's header, then every row (a column the row lacks is
    empty), every value quoted."""
    header = elf.COLUMNS[event_type]
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=header, quoting=csv.QUOTE_ALL, lineterminator=line_end
    )
    writer.writeheader()
    writer.writerows({column: row.get(column, "") for column in header} for row in rows)
    return buffer.getvalue().encode()


def write_elf(
    path: Path, event_type: str, rows: Iterable[Mapping[str, str]], *, line_end: str = "\n"
) -> Path:
    """An event log file of `event_type` at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(elf_csv_bytes(rows, event_type, line_end=line_end))
    return path


def soql_page(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"totalSize": len(records), "done": True, "records": records}


def write_soql(path: Path, records: list[dict[str, Any]], indent: int | None = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(soql_page(records), indent=indent), encoding="utf-8")
    return path


def jsonl(lines: Iterable[Mapping[str, Any]]) -> str:
    return "".join(json.dumps(line) + "\n" for line in lines)


def write_jsonl(path: Path, lines: Iterable[Mapping[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(jsonl(lines), encoding="utf-8")
    return path
