"""Recognise an input file by its first bytes (CONTRACT §4: by content, not by name)."""

from __future__ import annotations

import csv
import io
from enum import Enum
from pathlib import Path

from ..errors import InputError


class FileKind(Enum):
    ELF_CSV = "EventLogFile CSV"
    RECORD_CSV = "Data Loader CSV"
    JSON = "JSON"


# Lower-cased fields that only these objects' Data Loader exports carry.
RECORD_CSV_SIGNATURES = {
    "LoginHistory": {"logintime"},
    "LoginEvent": {"eventidentifier", "eventdate"},
    "OauthToken": {"appname", "usecount"},
}


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
    lowered = {name.strip().lower() for name in header}
    for signature in RECORD_CSV_SIGNATURES.values():
        if signature <= lowered:
            return FileKind.RECORD_CSV, header
    raise InputError(
        f"{path}: not a format tokensentry reads (EventLogFile CSV, SOQL JSON or Data Loader CSV "
        "of LoginHistory / LoginEvent / OauthToken, partner token-log JSON Lines); "
        f"first line: {text.splitlines()[0][:120]!r}"
    )
