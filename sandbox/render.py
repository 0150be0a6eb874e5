"""A world in Salesforce's own shapes: SOQL records, EventLogFile rows, OAuth usage.

Column sets follow SALESFORCE.md (Login, Logout, ApiTotalUsage, BulkApi2 event types); every
ELF file of one event type has one header, exactly as Salesforce serves it.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from . import elf
from .model import ApiCall, BulkJob, Login, Logout, Org, Token, TokenRead, World
from .salesforce import API, soql_time, stable_id

COLUMNS = elf.COLUMNS


def _ms(key: str) -> int:
    return int(hashlib.md5(key.encode()).hexdigest()[:4], 16) % 1000


def _elf_head(event_type: str, at: datetime, key: str, org: Org, user_id: str, ip: str) -> dict:
    """The columns every event log file row has: type, time stamps (milliseconds drawn from
    `key`), request id, org, user, client address."""
    return {
        "EVENT_TYPE": event_type,
        **elf.stamps(at, _ms(key)),
        "REQUEST_ID": stable_id("4", "req", key)[:22],
        "ORGANIZATION_ID": org.org_id[:15],
        "USER_ID": user_id[:15],
        "CLIENT_IP": ip,
    }


def login_history(login: Login) -> dict[str, object]:
    """A LoginHistory record, with its LoginGeo unless Salesforce could not place the address."""
    place = login.place
    geo_id = stable_id("04F5g", login.record_id)
    record: dict[str, object] = {
        "attributes": {"type": "LoginHistory", "url": f"{API}/sobjects/LoginHistory/{login.record_id}"},  # noqa: E501
        "Id": login.record_id,
        "UserId": login.user_id,
        "LoginTime": soql_time(login.at),
        "LoginType": login.login_type,
        "LoginSubType": login.sub_type,
        "SourceIp": place.ip,
        "Status": login.status,
        "Application": login.app,
        "Browser": "Chrome 131" if login.login_type == "Application" else "Unknown",
        "Platform": "Mac OSX" if login.login_type == "Application" else "Unknown",
        "LoginUrl": f"{login.org.alias}.my.salesforce.com",
        "CountryIso": place.country,
        "LoginGeoId": geo_id,
        "LoginGeo": {
            "attributes": {"type": "LoginGeo", "url": f"{API}/sobjects/LoginGeo/{geo_id}"},
            "City": place.city,
            "Country": place.country,
            "CountryIso": place.country,
            "Latitude": place.latitude,
            "Longitude": place.longitude,
        },
    }  # fmt: skip
    if not place.located:
        del record["LoginGeoId"], record["LoginGeo"]
    return record


def login_event(login: Login) -> dict[str, object]:
    place = login.place
    ident = hashlib.md5(("event" + login.record_id).encode()).hexdigest()
    ms = _ms(login.record_id)
    return {
        "attributes": {"type": "LoginEvent"},
        "EventIdentifier": f"{ident[:8]}-{ident[8:12]}-{ident[12:16]}-{ident[16:20]}-{ident[20:]}",
        "EventDate": login.at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms:03d}+0000",
        "UserId": login.user_id,
        "Username": login.username,
        "SourceIp": place.ip,
        "LoginType": login.login_type,
        "LoginSubType": login.sub_type,
        "Status": login.status,
        "Application": login.app,
        "LoginLatitude": place.latitude,
        "LoginLongitude": place.longitude,
        "CountryIso": place.country,
        "City": place.city,
        "LoginKey": login.login_key,
        "LoginHistoryId": login.record_id,
        "Browser": "Unknown",
        "Platform": "Unknown",
        "LoginUrl": f"{login.org.alias}.my.salesforce.com",
        "UserAgent": login.user_agent,
    }


def elf_login(login: Login) -> dict[str, str]:
    oauth = login.login_type == "Remote Access 2.0"
    sub = (login.sub_type or "").replace(" ", "").replace("-", "").lower()
    return {
        **_elf_head("Login", login.at, login.record_id, login.org, login.user_id, login.place.ip),
        "RUN_TIME": str(40 + _ms(login.record_id) % 160),
        "CPU_TIME": str(10 + _ms(login.record_id) % 50),
        "URI": "/services/oauth2/token" if oauth else "/index.jsp",
        "SESSION_KEY": "",
        "LOGIN_KEY": login.login_key,
        "USER_TYPE": "Standard",
        "REQUEST_STATUS": "Success" if login.succeeded else "Failure",
        "DB_TOTAL_TIME": str(10**6 + _ms(login.record_id) * 1000),
        "BROWSER_TYPE": login.user_agent,
        "API_TYPE": "",
        "API_VERSION": "62.0" if oauth else "9998.0",
        "USER_NAME": login.username,
        "TLS_PROTOCOL": "TLSv1.3",
        "CIPHER_SUITE": "TLS_AES_256_GCM_SHA384",
        "AUTHENTICATION_METHOD_REFERENCE": "",
        "LOGIN_TYPE": elf.LOGIN_TYPE[login.login_type],
        "LOGIN_SUB_TYPE": sub,
        "LOGIN_STATUS": elf.LOGIN_STATUS[login.status],
        "USER_ID_DERIVED": login.user_id,
        "URI_ID_DERIVED": "",
        "SOURCE_IP": login.place.ip,
        "COUNTRY_CODE": login.place.country,
    }


def elf_logout(logout: Logout) -> dict[str, str]:
    key = f"{logout.login_key}:logout"
    return {
        **_elf_head("Logout", logout.at, key, logout.org, logout.user_id, logout.place.ip),
        "USER_TYPE": "S",
        "SESSION_KEY": stable_id("SK", key)[:16],
        "LOGIN_KEY": logout.login_key,
        "SESSION_TYPE": logout.session_type,
        "SESSION_LEVEL": "1",
        "PLATFORM_TYPE": "1015",
        "RESOLUTION_TYPE": "9999",
        "APP_TYPE": "1000",
        "CLIENT_VERSION": "9998",
        "API_TYPE": "",
        "API_VERSION": "9998.0",
        "USER_INITIATED_LOGOUT": "1",
        "BROWSER_TYPE": "Chrome",
        "USER_ID_DERIVED": logout.user_id,
    }


def _call_key(call: ApiCall) -> str:
    return f"{call.login_key}:{call.at.isoformat()}:{call.entity}:{call.resource}"


def elf_api_total_usage(call: ApiCall) -> dict[str, str]:
    key = _call_key(call)
    return {
        **_elf_head("ApiTotalUsage", call.at, key, call.org, call.user_id, call.place.ip),
        "USER_NAME": call.username,
        "API_FAMILY": call.family,
        "API_VERSION": "62.0",
        "API_RESOURCE": call.resource,
        "CLIENT_NAME": call.agent,
        "HTTP_METHOD": call.method,
        "ENTITY_NAME": call.entity,
        "CONNECTED_APP_ID": call.app_id[:15],
        "CONNECTED_APP_NAME": call.app,
        "COUNTS_AGAINST_API_LIMIT": "true",
        "STATUS_CODE": str(call.status_code),
        "API_CLIENT_CATEGORY": "EXTERNAL_APPLICATION",
    }


def elf_rest_api(call: ApiCall) -> dict[str, str]:
    """The RestApi row of a call the org's RestApi log records (`call.rest_api`): it names
    the app by id only; a query's later page (`call.uri`) names no object."""
    key = f"{call.login_key}:{call.at.isoformat()}:{call.entity}:RestApi"
    return {
        **_elf_head("RestApi", call.at, key, call.org, call.user_id, call.place.ip),
        # One call is one transaction: its RestApi and ApiTotalUsage rows share REQUEST_ID.
        "REQUEST_ID": stable_id("4", "req", _call_key(call))[:22],
        "RUN_TIME": str(20 + _ms(key) % 60),
        "CPU_TIME": str(5 + _ms(key) % 20),
        "URI": call.uri or f"{API}/query?q=SELECT+Id+FROM+{call.entity}",
        "SESSION_KEY": "",
        "LOGIN_KEY": call.login_key,
        "CONNECTED_APP_ID": call.app_id[:15],
        "METHOD": call.method,
        "STATUS_CODE": str(call.status_code),
        "ENTITY_NAME": call.entity,
        "ROWS_PROCESSED": str(call.rows),
        "USER_AGENT": call.agent,
        "USER_ID_DERIVED": call.user_id,
    }


def elf_bulk_api2(job: BulkJob) -> dict[str, str]:
    key = f"{job.job_id}:{job.status}"
    return {
        **_elf_head("BulkApi2", job.at, key, job.org, job.user_id, job.place.ip),
        "RUN_TIME": str(30_000 + job.records // 10),
        "CPU_TIME": str(5_000 + job.records // 50),
        "URI": f"/services/data/v62.0/jobs/query/{job.job_id}",
        "SESSION_KEY": "",
        "LOGIN_KEY": job.login_key,
        "JOB_ID": job.job_id[:15],
        "JOB_STATUS": job.status,
        "OPERATION_TYPE": "query",
        "ENTITY_TYPE": job.entity,
        "RECORDS_PROCESSED": str(job.records),
        "RECORDS_FAILED": "0",
        "RESULT_SIZE_MB": "",
        "USER_ID_DERIVED": job.user_id,
        "URI_ID_DERIVED": job.job_id,
    }


def oauth_token(token: Token, moment: datetime) -> dict[str, object]:
    """OauthToken as a SOQL record (its Id reads as null; DeleteToken is never stored)."""
    return _oauth_token(token, *token.as_of(moment))


def oauth_token_read(read: TokenRead) -> dict[str, object]:
    """OauthToken as the scripted read `read` shows it."""
    return _oauth_token(read.token, read.last_used, read.use_count)


def _oauth_token(token: Token, last_used: datetime, count: int) -> dict[str, object]:
    return {
        "attributes": {"type": "OauthToken"},
        "Id": None,
        "AppName": token.app,
        "UserId": token.user_id,
        "CreatedDate": soql_time(token.created),
        "LastUsedDate": soql_time(last_used),
        "UseCount": count,
        "DeleteToken": hashlib.sha1(f"{token.org.alias}:{token.user_id}".encode()).hexdigest(),
    }


def oauth_usage(token: Token, moment: datetime) -> dict[str, object]:
    """One Connect REST "App OAuth Usage Token" object."""
    last_used, count = token.as_of(moment)
    return {
        "accessTokenFormat": "Opaque",
        "appDeveloperName": token.app.replace(" ", "_"),
        "appIdentifier": token.app_id,
        "initialConnectionAt": soql_time(token.created),
        "lastUsedAt": soql_time(last_used),
        "revocationUrl": f"{API}/apps/oauth/usage/tokens/{stable_id('0Dn', token.user_id)}",
        "useCount": count,
        "userIdentifier": token.user_id,
        "username": token.username,
    }


@dataclass
class OrgLogs:
    org: Org
    login_history: list[dict[str, object]] = field(default_factory=list)
    login_events: list[dict[str, object]] = field(default_factory=list)
    elf: dict[tuple[str, str], list[dict[str, str]]] = field(default_factory=dict)
    """(event type, UTC day) → rows of that day's file."""


def org_logs(world: World, org: Org) -> OrgLogs:
    logs = OrgLogs(org)
    elf: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for login in world.of(org):
        logs.login_history.append(login_history(login))
        if org.login_event:
            logs.login_events.append(login_event(login))
        if org.event_monitoring:
            elf[("Login", login.at.strftime("%Y-%m-%d"))].append(elf_login(login))
    if org.event_monitoring:
        for logout in world.logouts:
            if logout.org is org and logout.at < world.end:
                elf[("Logout", logout.at.strftime("%Y-%m-%d"))].append(elf_logout(logout))
        for call in world.api_calls:
            if call.org is org:
                day = call.at.strftime("%Y-%m-%d")
                elf[("ApiTotalUsage", day)].append(elf_api_total_usage(call))
                if call.rest_api:
                    elf[("RestApi", day)].append(elf_rest_api(call))
        for job in world.bulk_jobs:
            if job.org is org:
                elf[("BulkApi2", job.at.strftime("%Y-%m-%d"))].append(elf_bulk_api2(job))
    for rows in elf.values():
        rows.sort(key=lambda row: row["TIMESTAMP"])
    logs.elf = dict(sorted(elf.items()))
    return logs
