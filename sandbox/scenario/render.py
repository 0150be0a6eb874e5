"""A `World` written as the files each org and the partner would hand over.

API orgs: one LoginHistory SOQL page per week (with LoginGeo), delivered an hour after its last
day ends; their Organization row (time zone). ELF orgs: Login, RestApi, BulkApi2 and
ApiTotalUsage event log files per week, delivered five hours after its last day ends (ELF
lands 3-6 h late); their Login rows carry no app. Both: OauthToken results per snapshot. The
partner: one token-log file per week.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .. import elf
from ..model import ApiCall, BulkJob, Login, Org, TokenRead, World
from ..salesforce import organization, soql_time_ms, stable_id, write_elf, write_jsonl, write_soql
from .model import WorldFile

LOGIN_HISTORY_DELAY = timedelta(hours=1)
ELF_DELAY = timedelta(hours=5)


def _day(moment: datetime) -> str:
    """The file period: an ISO week (Salesforce serves daily or hourly files; a week per file
    keeps the world to a few dozen files while every late-arrival order still happens)."""
    return f"{moment:%G-W%V}"


def _group(items: Iterable[Any], key: Callable[[Any], tuple]) -> dict[tuple, list[Any]]:
    groups: dict[tuple, list[Any]] = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    return groups


def _end_of(rows: list[Any]) -> datetime:
    """The end of the UTC day of the period's newest row."""
    newest = max(row.at for row in rows)
    return datetime(newest.year, newest.month, newest.day) + timedelta(days=1)


def _login_history(login: Login) -> dict[str, Any]:
    rid, place = login.record_id, login.place
    record: dict[str, Any] = {
        "attributes": {
            "type": "LoginHistory",
            "url": f"/services/data/v62.0/sobjects/LoginHistory/{rid}",
        },
        "Id": rid,
        "UserId": login.user_id,
        "LoginTime": soql_time_ms(login.at),
        "LoginType": login.login_type,
        "LoginSubType": login.sub_type,
        "SourceIp": place.ip,
        "Status": login.status,
        "Application": login.app or "Browser",
        "Browser": "Unknown" if login.login_type == "Remote Access 2.0" else "Chrome 131",
        "Platform": "Unknown",
        "LoginUrl": f"{login.org.alias}.my.salesforce.com",
        "CountryIso": place.country,
    }
    if place.located:
        country, city, lat, lon = place.country, place.city, place.latitude, place.longitude
        geo_id = stable_id("04F5g", rid)
        record["LoginGeoId"] = geo_id
        record["LoginGeo"] = {
            "attributes": {
                "type": "LoginGeo",
                "url": f"/services/data/v62.0/sobjects/LoginGeo/{geo_id}",
            },
            "City": city,
            "Country": country,
            "CountryIso": country,
            "Latitude": lat,
            "Longitude": lon,
        }
    return record


def _elf_login(login: Login) -> dict[str, str]:
    oauth = login.login_type == "Remote Access 2.0"
    return {
        "EVENT_TYPE": "Login",
        **elf.stamps(login.at),
        "REQUEST_ID": "4e" + hashlib.md5(f"{login.login_key}{login.at}".encode()).hexdigest()[:20],
        "ORGANIZATION_ID": login.org.org_id[:15],
        "USER_ID": login.user_id[:15],
        "RUN_TIME": "88",
        "CPU_TIME": "21",
        "URI": "/services/oauth2/token" if oauth else "/index.jsp",
        "LOGIN_KEY": login.login_key,
        "USER_TYPE": "Standard",
        "REQUEST_STATUS": "",
        "BROWSER_TYPE": login.user_agent,
        "API_VERSION": "62.0" if oauth else "9998.0",
        "USER_NAME": login.username,
        "TLS_PROTOCOL": "TLSv1.3",
        "CIPHER_SUITE": "TLS_AES_256_GCM_SHA384",
        "LOGIN_TYPE": elf.LOGIN_TYPE[login.login_type],
        "LOGIN_SUB_TYPE": elf.SUB_TYPE.get(login.sub_type or "", ""),
        "LOGIN_STATUS": elf.LOGIN_STATUS[login.status],
        "USER_ID_DERIVED": login.user_id,
        "CLIENT_IP": login.place.ip,
        "SOURCE_IP": login.place.ip,
    }


def _common(kind: str, at: datetime, org: Org, user: str, ip: str, key: str) -> dict[str, str]:
    return {
        "EVENT_TYPE": kind,
        **elf.stamps(at),
        "REQUEST_ID": "4f" + hashlib.md5(f"{key}{at}{kind}".encode()).hexdigest()[:20],
        "ORGANIZATION_ID": org.org_id[:15],
        "USER_ID": user[:15],
        "USER_ID_DERIVED": user,
        "CLIENT_IP": ip,
    }


def _rest_api(call: ApiCall) -> dict[str, str]:
    return {
        **_common("RestApi", call.at, call.org, call.user_id, call.place.ip, call.login_key),
        "RUN_TIME": "41",
        "CPU_TIME": "12",
        "URI": f"/services/data/v62.0/query?q=SELECT+Id+FROM+{call.entity}",
        "LOGIN_KEY": call.login_key,
        "CONNECTED_APP_ID": call.app_id,
        "METHOD": "GET",
        "STATUS_CODE": "200",
        "ENTITY_NAME": call.entity,
        "ROWS_PROCESSED": str(call.rows),
        "USER_AGENT": call.agent,
    }


def _bulk_api2(job: BulkJob) -> dict[str, str]:
    return {
        **_common("BulkApi2", job.at, job.org, job.user_id, job.place.ip, job.login_key),
        "LOGIN_KEY": job.login_key,
        "JOB_ID": job.job_id,
        "JOB_STATUS": "JobComplete",
        "OPERATION_TYPE": "query",
        "ENTITY_TYPE": job.entity,
        "RECORDS_PROCESSED": str(job.records),
        "URI": f"/services/data/v62.0/jobs/query/{job.job_id}",
    }


def _api_total_usage(call: ApiCall) -> dict[str, str]:
    return {
        **_common("ApiTotalUsage", call.at, call.org, call.user_id, call.place.ip, call.login_key),
        "USER_NAME": call.username,
        "API_CLIENT_CATEGORY": "EXTERNAL_APPLICATION",
        "API_FAMILY": "REST",
        "API_RESOURCE": "/v62.0/query",
        "API_VERSION": "62.0",
        "CLIENT_NAME": call.agent,
        "CONNECTED_APP_ID": call.app_id,
        "CONNECTED_APP_NAME": call.app,
        "COUNTS_AGAINST_API_LIMIT": "true",
        "ENTITY_NAME": call.entity,
        "HTTP_METHOD": "GET",
        "STATUS_CODE": "200",
    }


def _oauth_token(read: TokenRead) -> dict[str, Any]:
    return {
        "attributes": {"type": "OauthToken"},
        "Id": None,  # always null: a token is its owner, app and creation time
        "AppName": read.token.app,
        "UserId": read.token.user_id,
        "CreatedDate": soql_time_ms(read.token.created),
        "LastUsedDate": soql_time_ms(read.last_used),
        "UseCount": read.use_count,
    }


def render(world: World, orgs: list[Org], root: Path) -> list[WorldFile]:
    """Write every file under `root`; return them with the org and time each is delivered."""
    files: list[WorldFile] = []

    def add(path: Path, org: Org | None, delivered: datetime) -> None:
        files.append(WorldFile(str(path.relative_to(root)), org.org_id if org else None, delivered))

    for org in orgs:
        folder = root / org.alias
        logins = _group(world.of(org), lambda x: (_day(x.at),))
        if org.evidence == "api":
            for (day,), rows in sorted(logins.items()):
                rows.sort(key=lambda x: x.at)
                path = write_soql(
                    folder / f"LoginHistory-{day}.json", [_login_history(x) for x in rows]
                )
                add(path, org, _end_of(rows) + LOGIN_HISTORY_DELAY)
            if org.time_zone:
                record = organization(org.org_id, org.time_zone, org.alias)
                first = min(files, key=lambda f: f.delivered_at).delivered_at
                add(write_soql(folder / "Organization.json", [record]), org, first)
        else:
            for (day,), rows in sorted(logins.items()):
                rows.sort(key=lambda x: x.at)
                path = write_elf(
                    folder / f"Login-{day}.csv", "Login", [_elf_login(x) for x in rows]
                )
                add(path, org, _end_of(rows) + ELF_DELAY)
            calls = [c for c in world.api_calls if c.org is org]
            kinds: list[tuple[str, list[Any], Callable[[Any], dict[str, str]]]] = [
                ("ApiTotalUsage", calls, _api_total_usage),
                ("BulkApi2", [j for j in world.bulk_jobs if j.org is org], _bulk_api2),
                ("RestApi", [c for c in calls if c.rest_api], _rest_api),
            ]
            for kind, records, row in kinds:
                for (day,), rows in sorted(_group(records, lambda c: (_day(c.at),)).items()):
                    rows.sort(key=lambda c: c.at)
                    path = write_elf(folder / f"{kind}-{day}.csv", kind, [row(c) for c in rows])
                    add(path, org, _end_of(rows) + ELF_DELAY)
        snapshots = _group(
            (t for t in world.token_reads if t.token.org is org), lambda t: (t.read_at,)
        )
        for (read_at,), tokens in sorted(snapshots.items()):
            path = write_soql(
                folder / f"OauthToken-{read_at:%Y-%m-%dT%H%M}.json",
                [_oauth_token(t) for t in tokens],
            )
            add(path, org, read_at)
    by_day = _group(world.partner_calls, lambda c: (_day(c.at),))
    for (day,), calls in sorted(by_day.items()):
        calls.sort(key=lambda c: c.at)
        path = write_jsonl(root / "partner" / f"token-log-{day}.jsonl", [c.line() for c in calls])
        add(path, None, _end_of(calls))
    return files
