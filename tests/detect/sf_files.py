"""Files in Salesforce's and the partner's own formats, for tests that go through `import`.

Each writer emits exactly what the source serves: event log file CSVs (every value quoted,
columns by name, 15-character ids, `yyyyMMddHHmmss.SSS` timestamps), OauthToken query results,
and the partner's token-exchange JSON Lines (CONTRACT §4). Tests import them with the real
normalizers, so the detectors see what production sees.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

LOGIN_HEADER = [
    "EVENT_TYPE", "TIMESTAMP", "REQUEST_ID", "ORGANIZATION_ID", "USER_ID", "URI", "SESSION_KEY",
    "LOGIN_KEY", "USER_TYPE", "REQUEST_STATUS", "BROWSER_TYPE", "USER_NAME", "LOGIN_TYPE",
    "LOGIN_SUB_TYPE", "LOGIN_STATUS", "TIMESTAMP_DERIVED", "USER_ID_DERIVED", "CLIENT_IP",
    "SOURCE_IP",
]  # fmt: skip
RESTAPI_HEADER = [
    "EVENT_TYPE", "TIMESTAMP", "REQUEST_ID", "ORGANIZATION_ID", "USER_ID", "RUN_TIME", "URI",
    "SESSION_KEY", "LOGIN_KEY", "CONNECTED_APP_ID", "CLIENT_NAME", "METHOD", "STATUS_CODE",
    "ENTITY_NAME", "ROWS_PROCESSED", "USER_AGENT", "TIMESTAMP_DERIVED", "USER_ID_DERIVED",
    "CLIENT_IP",
]  # fmt: skip
BULKAPI2_HEADER = [
    "EVENT_TYPE", "TIMESTAMP", "REQUEST_ID", "ORGANIZATION_ID", "USER_ID", "CLIENT_IP",
    "LOGIN_KEY", "SESSION_KEY", "JOB_ID", "JOB_STATUS", "OPERATION_TYPE", "ENTITY_TYPE",
    "RECORDS_PROCESSED", "URI", "TIMESTAMP_DERIVED", "USER_ID_DERIVED",
]  # fmt: skip
APITOTALUSAGE_HEADER = [
    "EVENT_TYPE", "TIMESTAMP", "TIMESTAMP_DERIVED", "ORGANIZATION_ID", "USER_ID", "USER_NAME",
    "API_CLIENT_CATEGORY", "API_FAMILY", "API_RESOURCE", "API_VERSION", "CLIENT_IP",
    "CLIENT_NAME", "CONNECTED_APP_ID", "CONNECTED_APP_NAME", "COUNTS_AGAINST_API_LIMIT",
    "ENTITY_NAME", "HTTP_METHOD", "REQUEST_ID", "STATUS_CODE",
]  # fmt: skip
HEADERS = {
    "Login": LOGIN_HEADER,
    "RestApi": RESTAPI_HEADER,
    "BulkApi2": BULKAPI2_HEADER,
    "ApiTotalUsage": APITOTALUSAGE_HEADER,
}


def elf_time(moment: datetime) -> tuple[str, str]:
    """(TIMESTAMP, TIMESTAMP_DERIVED) as Salesforce writes them."""
    millis = f"{moment.microsecond // 1000:03d}"
    return (
        f"{moment:%Y%m%d%H%M%S}.{millis}",
        f"{moment:%Y-%m-%dT%H:%M:%S}.{millis}Z",
    )


def _common(event_type: str, moment: datetime, org15: str, user15: str, key: str) -> dict:
    stamp, derived = elf_time(moment)
    return {
        "EVENT_TYPE": event_type,
        "TIMESTAMP": stamp,
        "TIMESTAMP_DERIVED": derived,
        "REQUEST_ID": f"4ehU_{key}",
        "ORGANIZATION_ID": org15,
        "USER_ID": user15,
    }


def login_row(
    moment: datetime, ip: str, *, org15: str, user15: str, login_key: str,
    sub: str = "oauthrefreshtoken", status: str = "LOGIN_NO_ERROR", agent: str = "Java/17.0.9",
) -> dict[str, str]:  # fmt: skip
    """A Login ELF row of an OAuth login (LOGIN_TYPE `i` = Remote Access 2.0): no app column."""
    return {
        **_common("Login", moment, org15, user15, login_key),
        "URI": "/services/oauth2/token",
        "SESSION_KEY": "",
        "LOGIN_KEY": login_key,
        "USER_TYPE": "Standard",
        "REQUEST_STATUS": "",
        "BROWSER_TYPE": agent,
        "USER_NAME": f"integration@{org15.lower()}.example",
        "LOGIN_TYPE": "i",
        "LOGIN_SUB_TYPE": sub,
        "LOGIN_STATUS": status,
        "USER_ID_DERIVED": "",
        "CLIENT_IP": ip,
        "SOURCE_IP": ip,
    }


def restapi_row(
    moment: datetime, ip: str, *, org15: str, user15: str, login_key: str, app_id15: str,
    entity: str = "Account", agent: str = "python-requests/2.32.4",
) -> dict[str, str]:  # fmt: skip
    return {
        **_common("RestApi", moment, org15, user15, f"r{login_key}{moment:%H%M%S}"),
        "RUN_TIME": "41",
        "URI": f"/services/data/v62.0/query?q=SELECT+COUNT()+FROM+{entity}",
        "SESSION_KEY": "",
        "LOGIN_KEY": login_key,
        "CONNECTED_APP_ID": app_id15,
        "CLIENT_NAME": "",
        "METHOD": "GET",
        "STATUS_CODE": "200",
        "ENTITY_NAME": entity,
        "ROWS_PROCESSED": "1",
        "USER_AGENT": agent,
        "USER_ID_DERIVED": "",
        "CLIENT_IP": ip,
    }


def bulkapi2_row(
    moment: datetime, ip: str, *, org15: str, user15: str, login_key: str, job: str
) -> dict[str, str]:
    return {
        **_common("BulkApi2", moment, org15, user15, f"b{login_key}{moment:%H%M%S}"),
        "CLIENT_IP": ip,
        "LOGIN_KEY": login_key,
        "SESSION_KEY": "",
        "JOB_ID": job,
        "JOB_STATUS": "JobComplete",
        "OPERATION_TYPE": "query",
        "ENTITY_TYPE": "Contact",
        "RECORDS_PROCESSED": "48000",
        "URI": f"/services/data/v62.0/jobs/query/{job}",
        "USER_ID_DERIVED": "",
    }


def apitotalusage_row(
    moment: datetime, ip: str, *, org15: str, user15: str, app_id15: str, app_name: str
) -> dict[str, str]:
    return {
        **_common("ApiTotalUsage", moment, org15, user15, f"t{moment:%H%M%S}"),
        "USER_NAME": f"integration@{org15.lower()}.example",
        "API_CLIENT_CATEGORY": "EXTERNAL_APPLICATION",
        "API_FAMILY": "REST",
        "API_RESOURCE": "/v62.0/query",
        "API_VERSION": "62.0",
        "CLIENT_IP": ip,
        "CLIENT_NAME": "",
        "CONNECTED_APP_ID": app_id15,
        "CONNECTED_APP_NAME": app_name,
        "COUNTS_AGAINST_API_LIMIT": "true",
        "ENTITY_NAME": "Account",
        "HTTP_METHOD": "GET",
        "STATUS_CODE": "200",
    }


def write_elf(path: Path, event_type: str, rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=HEADERS[event_type], quoting=csv.QUOTE_ALL, lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(rows)
    return path


def oauth_tokens(path: Path, tokens: list[tuple[str, str, datetime, datetime]]) -> Path:
    """OauthToken query results: (user id, app name, created, last used) per token."""
    records = [
        {
            "attributes": {"type": "OauthToken"},
            "Id": None,
            "AppName": app,
            "UserId": user,
            "CreatedDate": f"{created:%Y-%m-%dT%H:%M:%S}.000+0000",
            "LastUsedDate": f"{last_used:%Y-%m-%dT%H:%M:%S}.000+0000",
            "UseCount": 40,
        }
        for user, app, created, last_used in tokens
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"totalSize": len(records), "done": True, "records": records}))
    return path


def partner_line(
    moment: datetime, ip: str, *, org: str, user: str, token: str | None, new_token: str | None,
    app: str = "Acme Sync", grant: str = "refresh_token", worker: str = "sync-1",
    outcome: str = "success", error: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    return {
        "ts": f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z",
        "org_id": org,
        "app": app,
        "user_id": user,
        "grant_type": grant,
        "token_fp": token,
        "new_token_fp": new_token if outcome == "success" else None,
        "egress_ip": ip,
        "worker": worker,
        "outcome": outcome,
        "error_description": error,
        "pkce": True if grant == "authorization_code" else None,
    }


def write_partner_log(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def every(start: datetime, step: timedelta, count: int) -> list[datetime]:
    return [start + step * n for n in range(count)]
