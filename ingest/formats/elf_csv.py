"""EventLogFile CSVs exactly as Salesforce serves them, read by DuckDB without a Python loop.

Salesforce quotes every value and doubles embedded quotes (a quoted URL arrives with three
quotes each side); columns are looked up by name (their order changes between orgs and
releases); the last line may lack its newline. Rows DuckDB cannot split into the header's
columns land in its rejects table with their line number and are quarantined; every other
row loads.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb

from ..errors import InputError
from ..load import BatchResult, Loader, Problem, quote_literal
from .redact import redacted_row, safe_column_names


def read_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        header = next(csv.reader(handle), None)
    if not header:
        raise InputError(f"{path}: empty file")
    # Scrubbed before upper-casing: refresh tokens and JWTs are recognised by their case.
    columns = [name.upper() for name in safe_column_names([name.strip() for name in header])]
    if len(set(columns)) != len(columns):
        duplicated = sorted({c for c in columns if columns.count(c) > 1})
        raise InputError(f"{path}: header repeats column(s) {', '.join(duplicated)}")
    if any(not name for name in columns):
        raise InputError(f"{path}: header has an empty column name")
    return columns


def load_file(loader: Loader, path: Path, *, default_org: str | None) -> BatchResult:
    columns = read_header(path)
    con = loader.con
    spec = "{" + ", ".join(f"{quote_literal(c)}: 'VARCHAR'" for c in columns) + "}"
    source = f"""read_csv(
        {quote_literal(str(path))}, header = true, columns = {spec}, auto_detect = false,
        delim = ',', quote = '"', escape = '"', store_rejects = true,
        rejects_table = 'elf_rejects', rejects_scan = 'elf_rejects_scan',
        max_line_size = 16777216, parallel = true)"""
    for table in ("elf_rejects", "elf_rejects_scan"):
        con.execute(f"DROP TABLE IF EXISTS {table}")

    def rejected() -> list[tuple]:
        return con.execute(
            "SELECT line, error_type, error_message, csv_line FROM elf_rejects ORDER BY line"
        ).fetchall()

    input_key = str(path.resolve())
    try:
        result = loader.load_elf(
            source,
            columns,
            origin=str(path),
            input_key=input_key,
            default_org=default_org,
            locate_lines=lambda rows: locate_lines(path, rows),
        )
        bad_lines = _first_error_per_line(rejected())
        result.rows_read += len(bad_lines)
        result.rows_quarantined += loader.quarantine(
            str(path),
            input_key,
            (
                Problem(
                    line=int(line),
                    reason=f"{kind}: {message}",
                    raw_text=redacted_row(columns, _split_line(text)),
                )
                for line, kind, message, text in bad_lines
            ),
        )
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot read as an EventLogFile CSV: {exc}") from None
    finally:
        for table in ("elf_rejects", "elf_rejects_scan"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
    return result


def _split_line(text: str) -> list[str]:
    """A rejected line's values, so secret columns can be found by position."""
    try:
        return next(csv.reader(io.StringIO(text.strip("\r\n"), newline="")), [])
    except csv.Error:
        return [text]


def _first_error_per_line(rows: list[tuple]) -> list[tuple]:
    seen: set[int] = set()
    first = []
    for row in rows:
        if row[0] not in seen:
            seen.add(row[0])
            first.append(row)
    return first


def locate_lines(path: Path, rows: list[tuple[str, ...]]) -> list[int | None]:
    """The line each row (its values, in header order) starts on; slow path, bad rows only.

    Identical rows take their lines in file order.
    """
    wanted: dict[tuple[str, ...], list[int]] = {}
    for index, row in enumerate(rows):
        wanted.setdefault(row, []).append(index)
    found: list[int | None] = [None] * len(rows)
    remaining = len(rows)
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        start_line = reader.line_num + 1
        for record in reader:
            waiting = wanted.get(tuple(record))
            if waiting:
                found[waiting.pop(0)] = start_line
                remaining -= 1
                if not remaining:
                    break
            start_line = reader.line_num + 1
    return found
