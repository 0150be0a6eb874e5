"""CSV every surface exports: spreadsheet-safe, because log strings are attacker-controlled."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """A cell a spreadsheet shows as text: a leading = + - @ would make Excel or Sheets
    evaluate it as a formula (CSV injection), so such a cell gets a leading apostrophe."""
    if isinstance(value, list | tuple):
        value = " ".join(str(item) for item in value)
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def rows_csv(records: Iterable[Mapping[str, Any]], fields: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(fields)
    for record in records:
        writer.writerow([csv_cell(record.get(name)) for name in fields])
    return buffer.getvalue()
