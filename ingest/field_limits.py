"""Caps on the size of a stored value, so a 1 MB app name or user agent cannot bloat the store,
slow every detector that groups by it, or push the rest of a page or digest off the screen.

Names and agents (app, user, user agent, worker, URI...) keep at most `NAME_CAP` bytes, free
text (an OAuth `error_description`, an ELF column tokensentry does not know, a raw payload's
strings) at most `TEXT_CAP`. A cut value is cut at a UTF-8 character boundary, still loaded,
and the cut is recorded in the quarantine table as a note on the row (its line, or its record
id), reason `field truncated: app_name 1048576 → 8192 bytes`, counted in the run's
`rows_quarantined` like any other quarantine entry. Nothing is lost that the input file does
not still hold: the note says where to find the whole value.

The caps are applied where rows enter the store (`Loader.load_records` for SOQL, partner and
API records; `Loader.load_elf` for EventLogFile rows, in SQL); quarantine reasons (which may
quote a value) keep at most `REASON_CAP` bytes.
"""

from __future__ import annotations

import csv
import functools
import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

    from .load import Problem, StagedRecord

# Python's csv module refuses a field over 128 KiB, so a file DuckDB reads (lines up to its
# `max_line_size`, 2 MB) failed in the Python readers (Data Loader CSV, `locate_lines`) with an
# internal error instead of having the value cut here. Every importer imports this module.
READ_LIMIT = 64 * 1024 * 1024
if csv.field_size_limit() < READ_LIMIT:
    csv.field_size_limit(READ_LIMIT)

NAME_CAP = 8 * 1024
TEXT_CAP = 64 * 1024
REASON_CAP = 1024

# Normalized event columns holding free text; every other text column is a name or an agent.
_FREE_TEXT_EVENT_COLUMNS = frozenset(
    {"error_description", "threat_summary", "threat_data", "threat_context"}
)
# Raw payload keys (lower case, letters only) holding names or agents; other strings are text.
_PAYLOAD_NAME_KEYS = frozenset(
    {"app", "appname", "application", "browser", "useragent", "username", "worker", "platform",
     "loginurl", "apitype", "clientversion", "name"}
)  # fmt: skip
# EventLogFile columns tokensentry reads as names, agents or ids (ELF_COLUMNS_READ and kin);
# any other column is free text to us.
_ELF_NAME_COLUMNS = frozenset(
    {
        "EVENT_TYPE", "TIMESTAMP", "TIMESTAMP_DERIVED", "ORGANIZATION_ID", "USER_ID",
        "USER_ID_DERIVED", "USER_NAME", "CONNECTED_APP_NAME", "CONNECTED_APP_ID", "SOURCE_IP",
        "CLIENT_IP", "COUNTRY_CODE", "LOGIN_TYPE", "LOGIN_SUB_TYPE", "LOGIN_STATUS",
        "REQUEST_STATUS", "STATUS_CODE", "BROWSER_TYPE", "USER_AGENT", "CLIENT_NAME",
        "LOGIN_KEY", "SESSION_KEY", "REQUEST_ID", "API_FAMILY", "API_RESOURCE", "URI",
        "ENTITY_NAME", "ENTITY_TYPE", "ROWS_PROCESSED", "RECORDS_PROCESSED",
        "DELEGATED_USER_ID", "DELEGATED_USER_ID_DERIVED", "DELEGATED_USER_NAME", "LOGIN_URL",
        "API_TYPE", "API_VERSION", "PLATFORM_TYPE", "TLS_PROTOCOL", "CIPHER_SUITE",
        "OPERATION_TYPE", "METHOD_NAME", "METHOD", "HTTP_METHOD", "JOB_ID", "JOB_STATUS",
    }
)  # fmt: skip


def cut(text: str, cap: int) -> str:
    """`text` in at most `cap` UTF-8 bytes, never splitting a character."""
    return text.encode("utf-8", "surrogatepass")[:cap].decode("utf-8", "ignore")


def size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def note(name: str, before: int, cap: int) -> str:
    return f"field truncated: {name} {before} → {cap} bytes"


def _over(text: str, cap: int) -> bool:
    return len(text) * 4 > cap and size(text) > cap  # most values: one multiplication


def event_cap(column: str) -> int:
    return TEXT_CAP if column in _FREE_TEXT_EVENT_COLUMNS else NAME_CAP


def elf_cap(column: str) -> int:
    return NAME_CAP if column.upper() in _ELF_NAME_COLUMNS else TEXT_CAP


# -- records (SOQL, partner log, API) -------------------------------------------------------


def cap_records(records: Iterable[StagedRecord], problem: Callable[..., Problem]) -> list[Problem]:
    """Cut every oversized event value and payload string of `records` in place; one note per
    record that had any cut, built by `problem` (load.Problem: this module sits below load)."""
    problems = []
    for index, record in enumerate(records):
        reasons: list[str] = []
        for column, value in (record.event or {}).items():
            cap = event_cap(column)
            if isinstance(value, str) and _over(value, cap):
                reasons.append(note(column, size(value), cap))
                record.event[column] = cut(value, cap)  # type: ignore[index]
        record.payload = _cap_tree(record.payload, "payload", reasons)
        if reasons:
            where = {"source_id": record.source_id, "record_id": record.record_id}
            problems.append(
                problem(
                    line=record.line,
                    reason="; ".join(reasons),
                    raw_text=json.dumps(where),
                    record_index=None if record.line is not None else index,
                )
            )
    return problems


def _cap_tree(value: Any, path: str, reasons: list[str], cap: int = TEXT_CAP) -> Any:
    if isinstance(value, str):
        if _over(value, cap):
            reasons.append(note(path, size(value), cap))
            return cut(value, cap)
        return value
    if isinstance(value, dict):
        return {
            k: _cap_tree(v, f"{path}.{k}", reasons, _payload_cap(str(k))) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_cap_tree(v, f"{path}[{i}]", reasons, cap) for i, v in enumerate(value)]
    return value


@functools.lru_cache(maxsize=4096)  # a payload's keys repeat on every record
def _payload_cap(key: str) -> int:
    letters = "".join(c for c in key.lower() if c.isalpha())
    return NAME_CAP if letters in _PAYLOAD_NAME_KEYS else TEXT_CAP


def cap_reason(problem: Problem) -> Problem:
    """`problem` with a reason of at most `REASON_CAP` bytes (reasons quote bad values)."""
    if not _over(problem.reason, REASON_CAP):
        return problem
    from dataclasses import replace

    return replace(problem, reason=cut(problem.reason, REASON_CAP - 3) + "...")


# -- EventLogFile rows (in DuckDB) ------------------------------------------------------------


def _capped_sql(column: str, cap: int) -> str:
    """DuckDB cuts by characters: `cap` characters, or `cap / 4` when they are multi-byte."""
    return (
        f"CASE WHEN strlen(left({column}, {cap})) <= {cap} THEN left({column}, {cap}) "
        f"ELSE left({column}, {cap // 4}) END"
    )


def cap_elf_batch(
    con: duckdb.DuckDBPyConnection,
    columns: list[str],
    quote: Callable[[str], str],
    problem: Callable[..., Problem],
    locate_lines: Callable[[list[tuple[str, ...]]], list[int | None]] | None = None,
) -> list[Problem]:
    """Cut oversized values of the TEMP table `elf_batch` in place; return one note per loaded
    row that had a cut. Reasons (`_problem`) are capped too."""
    caps = {name: elf_cap(name) for name in columns}
    over = " OR ".join(f"strlen({quote(name)}) > {cap}" for name, cap in caps.items())
    con.execute(
        f"UPDATE elf_batch SET _problem = left(_problem, {REASON_CAP // 4}) || '...' "
        f"WHERE strlen(_problem) > {REASON_CAP}"
    )
    if not over:
        return []
    sizes = ", ".join(f"strlen({quote(name)})" for name in columns)
    values = ", ".join(quote(name) for name in columns)
    rows = con.execute(
        f"SELECT _line_no, _record_id, {sizes}, {values} FROM elf_batch "
        f"WHERE ({over}) AND _problem IS NULL AND _first"
    ).fetchall()
    if not rows:
        return []
    width = len(columns)
    lines = [row[0] for row in rows]
    if locate_lines and any(line is None for line in lines):
        lines = locate_lines([tuple(v or "" for v in row[2 + width :]) for row in rows])
    problems = []
    for line, row in zip(lines, rows, strict=True):
        reasons = [
            note(name, found, caps[name])
            for name, found in zip(columns, row[2 : 2 + width], strict=True)
            if found is not None and found > caps[name]
        ]
        problems.append(
            problem(
                line=line,
                reason="; ".join(reasons),
                raw_text=json.dumps({"record_id": str(row[1])}),
            )
        )
    assignments = ", ".join(
        f"{quote(name)} = CASE WHEN strlen({quote(name)}) > {cap} "
        f"THEN {_capped_sql(quote(name), cap)} ELSE {quote(name)} END"
        for name, cap in caps.items()
    )
    con.execute(f"UPDATE elf_batch SET {assignments} WHERE {over}")
    return problems
