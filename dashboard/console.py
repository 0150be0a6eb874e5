"""Rendering for the command line: tables for a terminal, JSON and CSV for pipes and scripts.

Every string from Salesforce or a log (app names, user agents, usernames, error texts) is
attacker-controlled. On a terminal, in a pipe and in a document it goes through one function,
`plain`: secrets scrubbed, never parsed as rich markup, and every control character (ANSI and
OSC escapes, C0/C1, CR and LF, bidi overrides, zero-width and other invisible characters)
shown as a visible `\\x1b`-style escape, so one record is always one line. `alerts`,
`alerts --incidents`, `egress list`, the import/triage messages (`message`) and the evidence
pack all use it. In CSV a cell a spreadsheet would run as a formula is prefixed with `'`.
Secrets are scrubbed on the way out as well as on the way in.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sys
from datetime import datetime
from typing import Any

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dashboard import timefmt
from ingest.formats.redact import redact, scrub_text

SEVERITY_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}
CSV_FIELDS = (
    "alert_id",
    "detector",
    "severity",
    "org_id",
    "app",
    "user_id",
    "ips",
    "first_seen",
    "last_seen",
    "event_count",
    "status",
    "summary",
    "evidence",
    "username",  # appended (CONTRACT: extend, never reorder): scripts read columns by position
)


# C0 and C1 controls, DEL, and the Unicode bidi/format characters that reorder or hide text
# (Trojan Source: U+202A-U+202E, U+2066-U+2069, marks U+200E/U+200F/U+061C, U+200B-U+200D,
# U+2028/U+2029 line separators, U+FEFF), other invisibles (soft hyphen U+00AD, U+180E,
# U+2060-U+2064 and U+206A-U+206F, interlinear annotations U+FFF9-U+FFFB, the tag characters
# U+E0000-U+E007F that smuggle hidden ASCII) and lone surrogates (which a terminal's encoder
# would refuse).
_UNSAFE_CHARS = re.compile(
    "[\x00-\x1f\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064"
    "\u2066-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb\U000e0000-\U000e007f]"
)
# Leading characters that make Excel, LibreOffice or Sheets evaluate a cell (OWASP CSV
# injection): = + - @, tab and carriage return.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def plain(value: object) -> str:
    """`value` as text that is safe to print on a terminal, in a pipe or in a document:
    secrets scrubbed, every control, bidi or invisible character replaced by a visible escape
    such as `\\x1b`, `\\x0a` or `\\u202e` (so a value never spans two lines), and a missing
    value (None, NaN, NaT) empty."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = scrub_text(str(value))
    return _UNSAFE_CHARS.sub(_visible_escape, text)


def message(console: Console, text: str, *values: object) -> None:
    """Print one line: `text` (ours, `{}` placeholders) with every value through `plain`."""
    console.print(text.format(*(plain(v) for v in values)), markup=False, highlight=False)


def markup_safe(value: object) -> str:
    """`plain(value)` escaped for interpolation into a rich markup string."""
    return escape(plain(value))


def csv_cell(value: object) -> object:
    """A CSV value a spreadsheet shows as text: a leading formula character gets a `'`, and
    control characters become visible escapes (a CSV is also read with `cat`)."""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if not isinstance(value, str):
        return value
    text = scrub_text(value)
    prefix = "'" if text.startswith(_FORMULA_START) else ""
    return prefix + _UNSAFE_CHARS.sub(_visible_escape, text)


def _visible_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def stdout() -> Console:
    return Console(soft_wrap=not sys.stdout.isatty())


def stderr() -> Console:
    # In a pipe or a log file a hard wrap at 80 columns splits paths and org ids mid-word,
    # so the line can no longer be searched for or copied; a terminal wraps by itself.
    return Console(stderr=True, soft_wrap=not sys.stderr.isatty())


def print_json(value: Any) -> None:
    # json.dumps escapes control and non-ASCII characters, so only secrets need scrubbing;
    # a missing value read through pandas (NaN) is written as null, which JSON parsers accept.
    text = json.dumps(_nan_to_none(redact(value)), indent=2, default=str)
    sys.stdout.write(text + "\n")


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _nan_to_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(item) for item in value]
    return value


def alerts_csv(records: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for record in records:
        row = {**record, "ips": " ".join(record["ips"]), "evidence": json.dumps(record["evidence"])}
        writer.writerow({name: csv_cell(row.get(name)) for name in CSV_FIELDS})
    return buffer.getvalue()


def records_plain(records: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    """One record per line, tab-separated, a header first: what `cut`, `grep` and `sort` want
    from a pipe. `plain` escapes tabs and line breaks, so a value never splits a record."""
    lines = ["\t".join(columns)]
    lines += ["\t".join(plain(record.get(c)) for c in columns) for record in records]
    return "\n".join(lines) + "\n"


def alerts_plain(records: list[dict[str, Any]]) -> str:
    columns = (
        "severity", "detector", "status", "last_seen", "event_count", "alert_id", "summary",
        "username",
    )  # fmt: skip
    return records_plain(records, columns)


def alerts_table(records: list[dict[str, Any]]) -> Table:
    table = Table(show_lines=False, expand=False, pad_edge=False)
    zone = timefmt.local_zone()
    for name in (
        "severity", "detector", "user", "status", "last seen", "events", "alert", "summary",
    ):  # fmt: skip
        table.add_column(name, overflow="fold")
    for record in records:
        # Text objects, never markup strings: `[/]` in an app name is text, not a tag.
        table.add_row(
            Text(plain(record["severity"]), style=SEVERITY_STYLE.get(record["severity"], "")),
            Text(plain(record["detector"])),
            Text(plain(record.get("username") or record.get("user_id") or "")),
            Text(plain(record["status"])),
            Text(timefmt.shown(record["last_seen"], zone)),
            Text(plain(record["event_count"])),
            Text(plain(record["alert_id"])),
            Text(plain(record["summary"])),
        )
    return table


INCIDENT_FIELDS = (
    "incident_id",
    "severity",
    "status",
    "org_id",
    "app",
    "user_id",
    "ips",
    "first_seen",
    "last_seen",
    "alert_count",
    "detectors",
    "summary",
    "username",
)


def incidents_plain(records: list[dict[str, Any]]) -> str:
    columns = (
        "severity", "status", "alert_count", "last_seen", "incident_id", "summary", "username",
    )  # fmt: skip
    return records_plain(records, columns)


def records_table(records: list[dict[str, Any]], fields: tuple[str, ...]) -> Table:
    """Any list of records as a terminal table, every cell through `plain`."""
    table = Table(pad_edge=False)
    zone = timefmt.local_zone()
    for name in fields:
        table.add_column(name, overflow="fold")
    for record in records:
        table.add_row(*(Text(cell(record.get(name), zone)) for name in fields))
    return table


ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def cell(value: Any, zone: Any) -> str:
    """A terminal table's cell: a point in time (a datetime, or the ISO 8601 UTC text of the
    JSON records) as people read it (`timefmt`), anything else `plain`."""
    if isinstance(value, datetime) or (isinstance(value, str) and ISO_Z.fullmatch(value)):
        return timefmt.shown(value, zone)  # pandas' Timestamp is a datetime too
    return plain(value)


def incidents_table(records: list[dict[str, Any]]) -> Table:
    table = Table(show_lines=False, expand=False, pad_edge=False)
    zone = timefmt.local_zone()
    for name in ("severity", "status", "user", "alerts", "last seen", "incident", "summary"):
        table.add_column(name, overflow="fold")
    for record in records:
        # Text objects of `plain` values, never markup: summaries quote attacker strings.
        table.add_row(
            Text(plain(record["severity"]), style=SEVERITY_STYLE.get(record["severity"], "")),
            Text(plain(record["status"]) + (" (reopened)" if record.get("reopened") else "")),
            Text(plain(record.get("username") or record.get("user_id") or "")),
            Text(plain(record["alert_count"])),
            Text(timefmt.shown(record["last_seen"], zone)),
            Text(plain(record["incident_id"])),
            Text(plain(record["summary"])),
        )
    return table
