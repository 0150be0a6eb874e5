"""The demo world in Salesforce's own shapes: SOQL records, EventLogFile rows, OAuth usage.

Column sets follow SALESFORCE.md (Login, Logout, ApiTotalUsage, BulkApi2 event types); every
ELF file of one event type has one header, exactly as Salesforce serves it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from .activity import ApiCall, BulkJob, Login, Logout, Token, stable_id

API = "/services/data/v62.0"

LOGIN_COLUMNS = [
    "EVENT_TYPE", "TIMESTAMP", "REQUEST_ID", "ORGANIZATION_ID", "USER_ID", "RUN_TIME", "CPU_TIME",
    "URI", "SESSION_KEY", "LOGIN_KEY", "USER_TYPE", "REQUEST_STATUS", "DB_TOTAL_TIME",
    "BROWSER_TYPE", "API_TYPE", "API_VERSION", "USER_NAME", "TLS_PROTOCOL", "CIPHER_SUITE",
    "AUTHENTICATION_METHOD_REFERENCE", "LOGIN_TYPE", "LOGIN_SUB_TYPE", "LOGIN_STATUS",
    "TIMESTAMP_DERIVED", "USER_ID_DERIVED", "CLIENT_IP", "URI_ID_DERIVED", "SOURCE_IP",
    "COUNTRY_CODE",
]  # fmt: skip
LOGOUT_COLUMNS = [
    "EVENT_TYPE", "TIMESTAMP", "REQUEST_ID", "ORGANIZATION_ID", "USER_ID", "USER_TYPE",
    "SESSION_KEY", "LOGIN_KEY", "SESSION_TYPE", "SESSION_LEVEL", "PLATFORM_TYPE",
    "RESOLUTION_TYPE", "APP_TYPE", "CLIENT_VERSION", "API_TYPE", "API_VERSION",
    "USER_INITIATED_LOGOUT", "BROWSER_TYPE", "TIMESTAMP_DERIVED", "USER_ID_DERIVED", "CLIENT_IP",
]  # fmt: skip
API_TOTAL_USAGE_COLUMNS = [
    "EVENT_TYPE", "TIMESTAMP", "REQUEST_ID", "ORGANIZATION_ID", "USER_ID", "USER_NAME",
    "API_FAMILY", "API_VERSION", "API_RESOURCE", "CLIENT_NAME", "HTTP_METHOD", "CLIENT_IP",
    "ENTITY_NAME", "CONNECTED_APP_ID", "CONNECTED_APP_NAME", "COUNTS_AGAINST_API_LIMIT",
    "STATUS_CODE", "API_CLIENT_CATEGORY", "TIMESTAMP_DERIVED",
]  # fmt: skip
BULK_API2_COLUMNS = [
    "EVENT_TYPE", "TIMESTAMP", "REQUEST_ID", "ORGANIZATION_ID", "USER_ID", "RUN_TIME", "CPU_TIME",
    "URI", "SESSION_KEY", "LOGIN_KEY", "JOB_ID", "JOB_STATUS", "OPERATION_TYPE", "ENTITY_TYPE",
    "RECORDS_PROCESSED", "RECORDS_FAILED", "RESULT_SIZE_MB", "TIMESTAMP_DERIVED",
    "USER_ID_DERIVED", "CLIENT_IP", "URI_ID_DERIVED",
]  # fmt: skip
COLUMNS = {
    "Login": LOGIN_COLUMNS,
    "Logout": LOGOUT_COLUMNS,
    "ApiTotalUsage": API_TOTAL_USAGE_COLUMNS,
    "BulkApi2": BULK_API2_COLUMNS,
}
ELF_STATUS = {
    "Success": "LOGIN_NO_ERROR",
    "Failed: IP Address Not Allowed": "LOGIN_OAUTH_INVALID_IP",
    "Failed: Invalid Token": "LOGIN_OAUTH_INVALID_TOKEN",
}


def soql_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _ms(key: str) -> int:
    return int(hashlib.md5(key.encode()).hexdigest()[:4], 16) % 1000


def _elf_stamps(at: datetime, key: str) -> tuple[str, str]:
    ms = _ms(key)
    return at.strftime("%Y%m%d%H%M%S.") + f"{ms:03d}", at.strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{ms:03d}Z"
    )


def login_history(login: Login) -> dict[str, object]:
    place = login.place
    geo_id = stable_id("04F5g", login.record_id)
    return {
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
    stamp, derived = _elf_stamps(login.at, login.record_id)
    oauth = login.login_type == "Remote Access 2.0"
    sub = (login.sub_type or "").replace(" ", "").replace("-", "").lower()
    return {
        "EVENT_TYPE": "Login",
        "TIMESTAMP": stamp,
        "REQUEST_ID": stable_id("4", "req", login.record_id)[:22],
        "ORGANIZATION_ID": login.org.org_id[:15],
        "USER_ID": login.user_id[:15],
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
        "LOGIN_TYPE": "i" if oauth else "A",
        "LOGIN_SUB_TYPE": sub,
        "LOGIN_STATUS": ELF_STATUS[login.status],
        "TIMESTAMP_DERIVED": derived,
        "USER_ID_DERIVED": login.user_id,
        "CLIENT_IP": login.place.ip,
        "URI_ID_DERIVED": "",
        "SOURCE_IP": login.place.ip,
        "COUNTRY_CODE": login.place.country,
    }


def elf_logout(logout: Logout) -> dict[str, str]:
    key = f"{logout.login_key}:logout"
    stamp, derived = _elf_stamps(logout.at, key)
    return {
        "EVENT_TYPE": "Logout",
        "TIMESTAMP": stamp,
        "REQUEST_ID": stable_id("4", "req", key)[:22],
        "ORGANIZATION_ID": logout.org.org_id[:15],
        "USER_ID": logout.user_id[:15],
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
        "TIMESTAMP_DERIVED": derived,
        "USER_ID_DERIVED": logout.user_id,
        "CLIENT_IP": logout.place.ip,
    }


def elf_api_total_usage(call: ApiCall) -> dict[str, str]:
    key = f"{call.login_key}:{call.at.isoformat()}:{call.entity}:{call.resource}"
    stamp, derived = _elf_stamps(call.at, key)
    return {
        "EVENT_TYPE": "ApiTotalUsage",
        "TIMESTAMP": stamp,
        "REQUEST_ID": stable_id("4", "req", key)[:22],
        "ORGANIZATION_ID": call.org.org_id[:15],
        "USER_ID": call.user_id[:15],
        "USER_NAME": call.username,
        "API_FAMILY": call.family,
        "API_VERSION": "62.0",
        "API_RESOURCE": call.resource,
        "CLIENT_NAME": "",
        "HTTP_METHOD": call.method,
        "CLIENT_IP": call.place.ip,
        "ENTITY_NAME": call.entity,
        "CONNECTED_APP_ID": call.app_id[:15],
        "CONNECTED_APP_NAME": call.app,
        "COUNTS_AGAINST_API_LIMIT": "true",
        "STATUS_CODE": str(call.status_code),
        "API_CLIENT_CATEGORY": "EXTERNAL_APPLICATION",
        "TIMESTAMP_DERIVED": derived,
    }


def elf_bulk_api2(job: BulkJob) -> dict[str, str]:
    key = f"{job.job_id}:{job.status}"
    stamp, derived = _elf_stamps(job.at, key)
    return {
        "EVENT_TYPE": "BulkApi2",
        "TIMESTAMP": stamp,
        "REQUEST_ID": stable_id("4", "req", key)[:22],
        "ORGANIZATION_ID": job.org.org_id[:15],
        "USER_ID": job.user_id[:15],
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
        "TIMESTAMP_DERIVED": derived,
        "USER_ID_DERIVED": job.user_id,
        "CLIENT_IP": job.place.ip,
        "URI_ID_DERIVED": job.job_id,
    }


def oauth_token(token: Token, moment: datetime) -> dict[str, object]:
    """OauthToken as a SOQL record (its Id reads as null; DeleteToken is never stored)."""
    last_used, count = token.as_of(moment)
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
