"""Recognise an input file by its first bytes (CONTRACT §4: by content, not by name)."""

from __future__ import annotations

import csv
import io
from enum import Enum
from pathlib import Path

from ..errors import InputError
from .jsonio import looks_like_json_lines


class FileKind(Enum):
    ELF_CSV = "EventLogFile CSV"
    RECORD_CSV = "Data Loader CSV"
    JSON = "JSON"


def record_csv_kind(header: list[str]) -> str | None:
    """The Salesforce object a Data Loader CSV holds, judged by its columns exactly as a JSON
    record is (`records.classify`): an ApiEvent or LogoutEvent export has EventIdentifier and
    EventDate like a LoginEvent export, and must never be read as logins."""
    from .records import classify

    kind = classify(dict.fromkeys(name.strip() for name in header))
    return kind if kind not in (None, "elf", "partner_token_log") else None


def sniff(path: Path) -> tuple[FileKind, list[str]]:
    """The file's kind and, for CSVs, its header."""
    with path.open("rb") as handle:
        head = handle.read(65536)
    text = head.decode("utf-8-sig", errors="replace").lstrip()
    if not text:
        raise InputError(f"{path}: empty file")
    if text[0] in "[{":
        return FileKind.JSON, []
    header = next(csv.reader(io.StringIO(text)), [])
    names = {name.strip().upper() for name in header}
    if "EVENT_TYPE" in names:
        return FileKind.ELF_CSV, header
    if record_csv_kind(header):
        return FileKind.RECORD_CSV, header
    if looks_like_json_lines(head):  # JSON Lines whose first line is broken
        return FileKind.JSON, []
    raise InputError(
        f"{path}: not a format tokensentry reads (EventLogFile CSV, SOQL JSON or Data Loader CSV "
        "of LoginHistory / LoginEvent / OauthToken / a Threat Detection ...EventStore, "
        "partner token-log JSON Lines); "
        f"first line: {text.splitlines()[0][:120]!r}"
    )
