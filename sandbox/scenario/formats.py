"""Salesforce's and the partner's own file formats, written exactly as they are served.

Event log file CSVs: every value quoted, columns looked up by name, 15-character ids,
`yyyyMMddHHmmss.SSS` timestamps plus `TIMESTAMP_DERIVED`. SOQL results: the REST API's
`{"totalSize", "done", "records": [{"attributes": {...}, ...}]}` pages with relationship
objects (LoginGeo) nested. The partner's token log: JSON Lines (CONTRACT §4).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

ELF_HEADERS = {
    "Login": [
        "EVENT_TYPE", "TIMESTAMP", "REQUEST_ID", "ORGANIZATION_ID", "USER_ID", "RUN_TIME",
        "CPU_TIME", "URI", "SESSION_KEY", "LOGIN_KEY", "USER_TYPE", "REQUEST_STATUS",
        "BROWSER_TYPE", "API_TYPE", "API_VERSION", "USER_NAME", "TLS_PROTOCOL", "CIPHER_SUITE",
        "LOGIN_TYPE", "LOGIN_SUB_TYPE", "LOGIN_STATUS", "TIMESTAMP_DERIVED", "USER_ID_DERIVED",
        "CLIENT_IP", "SOURCE_IP", "COUNTRY_CODE",
    ],
    "RestApi": [
        "EVENT_TYPE", "TIMESTAMP", "REQUEST_ID", "ORGANIZATION_ID", "USER_ID", "RUN_TIME",
        "CPU_TIME", "URI", "SESSION_KEY", "LOGIN_KEY", "CONNECTED_APP_ID", "METHOD",
        "STATUS_CODE", "ENTITY_NAME", "ROWS_PROCESSED", "USER_AGENT", "TIMESTAMP_DERIVED",
        "USER_ID_DERIVED", "CLIENT_IP",
    ],
    "BulkApi2": [
        "EVENT_TYPE", "TIMESTAMP", "REQUEST_ID", "ORGANIZATION_ID", "USER_ID", "CLIENT_IP",
        "LOGIN_KEY", "SESSION_KEY", "JOB_ID", "JOB_STATUS", "OPERATION_TYPE", "ENTITY_TYPE",
        "RECORDS_PROCESSED", "URI", "TIMESTAMP_DERIVED", "USER_ID_DERIVED",
    ],
    "ApiTotalUsage": [
        "EVENT_TYPE", "TIMESTAMP", "TIMESTAMP_DERIVED", "ORGANIZATION_ID", "USER_ID",
        "USER_NAME", "API_CLIENT_CATEGORY", "API_FAMILY", "API_RESOURCE", "API_VERSION",
        "CLIENT_IP", "CLIENT_NAME", "CONNECTED_APP_ID", "CONNECTED_APP_NAME",
        "COUNTS_AGAINST_API_LIMIT", "ENTITY_NAME", "HTTP_METHOD", "REQUEST_ID", "STATUS_CODE",
    ],
}  # fmt: skip

# LoginHistory LoginType label → ELF LOGIN_TYPE code (Salesforce's documented table).
ELF_LOGIN_TYPE = {
    "Remote Access 2.0": "i",
    "Application": "A",
    "SAML Sfdc Initiated SSO": "8",
    "SAML Idp Initiated SSO": "5",
}
# LoginHistory LoginSubType label → the lower-case code the Login ELF carries.
ELF_SUB_TYPE = {
    "OAuth Refresh Token": "oauthrefreshtoken",
    "OAuth Web Server": "oauthcode",
    "OAuth Device": "oauthdevice",
    "UI Username-Password": "uiup",
}
# LoginHistory Status → ELF LOGIN_STATUS.
ELF_LOGIN_STATUS = {
    "Success": "LOGIN_NO_ERROR",
    "Failed: IP Address Not Allowed": "LOGIN_OAUTH_INVALID_IP",
    "Failed: Invalid Token": "LOGIN_OAUTH_INVALID_TOKEN",
}


def sf_time(moment: datetime) -> str:
    """A SOQL date-time as the REST API writes it."""
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}+0000"


def elf_times(moment: datetime) -> dict[str, str]:
    millis = f"{moment.microsecond // 1000:03d}"
    return {
        "TIMESTAMP": f"{moment:%Y%m%d%H%M%S}.{millis}",
        "TIMESTAMP_DERIVED": f"{moment:%Y-%m-%dT%H:%M:%S}.{millis}Z",
    }


def record_id(prefix: str, *parts: object) -> str:
    """A stable 18-character Salesforce-shaped id."""
    digest = hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest().upper()
    return (prefix + digest)[:18]


def write_elf(path: Path, event_type: str, rows: Iterable[Mapping[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(
            handle,
            fieldnames=ELF_HEADERS[event_type],
            quoting=csv.QUOTE_ALL,
            lineterminator="\n",
            extrasaction="raise",
        )
        writer.writeheader()
        for row in rows:
            writer.writerow({column: row.get(column, "") for column in ELF_HEADERS[event_type]})
    return path


def write_soql(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    page = {"totalSize": len(records), "done": True, "records": records}
    path.write_text(json.dumps(page, indent=1), encoding="utf-8")
    return path


def write_jsonl(path: Path, lines: Iterable[Mapping[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path
