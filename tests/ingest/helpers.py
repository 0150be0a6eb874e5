"""Small writers for import tests: each builds one file in Salesforce's own shape."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from ingest.importer import import_paths

from ..conftest import FIXED_NOW

ELF_LOGIN_HEADER = [
    "EVENT_TYPE",
    "TIMESTAMP",
    "REQUEST_ID",
    "ORGANIZATION_ID",
    "USER_ID",
    "URI",
    "LOGIN_KEY",
    "BROWSER_TYPE",
    "USER_NAME",
    "LOGIN_TYPE",
    "LOGIN_SUB_TYPE",
    "LOGIN_STATUS",
    "TIMESTAMP_DERIVED",
    "USER_ID_DERIVED",
    "CLIENT_IP",
    "SOURCE_IP",
]


def elf_login(
    ts: str,
    ip: str,
    *,
    user: str = "0055g00000AbCdE",
    sub: str = "oauthrefreshtoken",
    status: str = "LOGIN_NO_ERROR",
    org: str = "00D5g000004XyZa",
    key: str = "k1",
    agent: str = "Java/17.0.9",
) -> dict[str, str]:
    """ts like 20261101093000.123"""
    derived = f"{ts[0:4]}-{ts[4:6]}-{ts[6:8]}T{ts[8:10]}:{ts[10:12]}:{ts[12:14]}.{ts[15:18]}Z"
    return {
        "EVENT_TYPE": "Login",
        "TIMESTAMP": ts,
        "REQUEST_ID": f"req-{key}",
        "ORGANIZATION_ID": org,
        "USER_ID": user,
        "URI": "/services/oauth2/token",
        "LOGIN_KEY": key,
        "BROWSER_TYPE": agent,
        "USER_NAME": "integration@acme.example",
        "LOGIN_TYPE": "i",
        "LOGIN_SUB_TYPE": sub,
        "LOGIN_STATUS": status,
        "TIMESTAMP_DERIVED": derived,
        "USER_ID_DERIVED": "",
        "CLIENT_IP": ip,
        "SOURCE_IP": ip,
    }


def write_elf(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(
            handle,
            fieldnames=header or ELF_LOGIN_HEADER,
            quoting=csv.QUOTE_ALL,
            lineterminator="\n",
        )
        writer.writeheader()
        writer.writerows(rows)
    return path


def login_history(
    record_id: str,
    at: str,
    ip: str,
    *,
    user: str = "0055g00000AbCdEAAV",
    sub: str | None = "OAuth Refresh Token",
    status: str = "Success",
    app: str = "Acme Sync",
    geo: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """at like 2026-11-01T09:30:00"""
    record: dict[str, Any] = {
        "attributes": {
            "type": "LoginHistory",
            "url": f"/services/data/v62.0/sobjects/LoginHistory/{record_id}",
        },
        "Id": record_id,
        "UserId": user,
        "LoginTime": f"{at}.000+0000",
        "LoginType": "Remote Access 2.0",
        "LoginSubType": sub,
        "SourceIp": ip,
        "Status": status,
        "Application": app,
        "Browser": "Unknown",
    }
    if geo is not None:
        record["LoginGeo"] = geo
    return record


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document, indent=2))
    return path


def envelope(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"totalSize": len(records), "done": True, "records": records}


def run_import(con, *paths: Path, org: str | None = None, run_id: str = "run-1"):
    return import_paths(con, list(paths), org_id=org, run_id=run_id, now=lambda: FIXED_NOW)


def counts(con) -> dict[str, int]:
    return {
        table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("raw_records", "raw_elf", "events", "quarantine")
    }
