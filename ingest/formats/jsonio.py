"""JSON readers that remember where each record starts, so quarantine can name the line.

Handles one JSON value per file (a record, a list of records, or a REST query envelope with
`records`) and JSON Lines (one value per line, with or without a trailing newline).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError

_DECODER = json.JSONDecoder()
_RECORDS_KEY = re.compile(r'"records"\s*:\s*\[')


class BadLine(Exception):
    def __init__(self, line: int, reason: str, text: str) -> None:
        super().__init__(reason)
        self.line, self.reason, self.text = line, reason, text


def read_json_records(path: Path) -> Iterator[tuple[int, Any] | BadLine]:
    """Yield (line, value) for every record in the file, or a BadLine to quarantine."""
    text = path.read_text(encoding="utf-8-sig")
    stripped = text.lstrip()
    if not stripped:
        raise InputError(f"{path}: empty file")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" or _looks_like_json_lines(text):
            yield from _json_lines(text)
            return
        raise InputError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from None
    if isinstance(document, dict) and isinstance(document.get("records"), list):
        yield from _array_items(text, _records_offset(text), document["records"])
    elif isinstance(document, list):
        yield from _array_items(text, text.index("["), document)
    else:
        yield (_line_of(text, len(text) - len(stripped)), document)


def _looks_like_json_lines(text: str) -> bool:
    first = text.lstrip().split("\n", 1)[0].strip()
    try:
        json.loads(first)
    except json.JSONDecodeError:
        return False
    return True


def _json_lines(text: str) -> Iterator[tuple[int, Any] | BadLine]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield (number, json.loads(line))
        except json.JSONDecodeError as exc:
            yield BadLine(number, f"invalid JSON at column {exc.colno}: {exc.msg}", line)


def _records_offset(text: str) -> int:
    match = _RECORDS_KEY.search(text)
    return match.end() - 1 if match else 0


def _array_items(text: str, start: int, parsed: list[Any]) -> Iterator[tuple[int, Any]]:
    """Pair each already-parsed item with the line its text starts on."""
    position = start + 1
    for item in parsed:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        line = _line_of(text, position)
        try:
            _, position = _DECODER.raw_decode(text, position)
        except json.JSONDecodeError:
            line = None  # type: ignore[assignment]
        yield (line, item)  # type: ignore[misc]


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1
