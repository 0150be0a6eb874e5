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
    data = path.read_bytes()
    text = data.decode("utf-8-sig", errors="replace")
    stripped = text.lstrip()
    if not stripped:
        raise InputError(f"{path}: empty file")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" or looks_like_json_lines(data):
            yield from _json_lines(data)
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


def looks_like_json_lines(data: bytes, *, max_lines: int = 200) -> bool:
    """True when some line among the first `max_lines` is a JSON object on its own.

    Any line may be the one that proves it: a truncated or garbled first line must not turn
    a partner log into "not JSON" (it is quarantined alone).
    """
    lines = data.split(b"\n", max_lines)[:max_lines]
    if len([line for line in lines if line.strip()]) < 2:
        return False
    return any(_is_json_object(line) for line in lines)


def _is_json_object(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line.decode("utf-8-sig")), dict)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False


def _json_lines(data: bytes) -> Iterator[tuple[int, Any] | BadLine]:
    """Every line on its own: one that is not UTF-8 or not JSON is a BadLine, alone."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = raw.decode("utf-8", errors="replace")
            yield BadLine(number, f"not UTF-8 text (byte {exc.start + 1})", text)
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
