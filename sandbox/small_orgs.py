"""Small subscriber orgs for the ingest scaling bench: many of them, each with what a real
small org gives every source `tokensentry ingest` reads by default.

One org (`small_org`): 200 users; a day's LoginHistory of `logins` rows (80 % an integration's
OAuth refreshes, 20 % people in a browser; `bulk.synthetic_org`); the same logins as that day's
Login EventLogFile and the people's sessions as its Logout file (the free 24-hour files every
org gets); five integration users' refresh tokens for one External Client App, in OauthToken
and the Connect REST OAuth usage resources; the Organization row. No Shield: LoginEvent and the
Threat Detection objects answer INVALID_TYPE, as in most subscriber orgs. Nothing here is
judged: the bench times how ingest carries many of these.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from . import elf
from .bulk import START, synthetic_org
from .fakesf.fleet import monitor_user
from .fakesf.model import FakeApp, FakeOrg
from .salesforce import elf_csv_bytes, soql_time, stable_id

APP = "Acme Sync"
TOKEN_USERS = 5  # integration users holding a refresh token for the app


def small_org(index: int, logins: int, public_pem: bytes) -> FakeOrg:
    org = synthetic_org(index, logins, public_pem)
    history = org.objects["LoginHistory"]
    monitor = org.users[monitor_user(org.alias)]
    user_ids = sorted({str(r["UserId"]) for r in history} - {monitor})
    org.users.update({f"user{n}@{org.alias}.example": user for n, user in enumerate(user_ids)})
    app = FakeApp(APP, f"3MVG9acmeSync{index:06d}", stable_id("0H4", org.org_id, APP))
    org.apps.append(app)
    tokens = user_ids[:TOKEN_USERS]
    org.objects["OauthToken"] = [_oauth_token(user, n) for n, user in enumerate(tokens)]
    usernames = {user: name for name, user in org.users.items()}
    org.oauth_usage[app.app_id] = {
        user: [_usage(app, user, usernames[user], n)] for n, user in enumerate(tokens)
    }
    day = START.strftime("%Y-%m-%d")
    created = START + timedelta(days=1, hours=2, minutes=30)
    rows = [_elf_login(r, org.org_id, usernames.get(str(r["UserId"]), "")) for r in history]
    for event_type, body in (
        ("Login", elf_csv_bytes(rows, "Login")),
        (
            "Logout",
            elf_csv_bytes([_elf_logout(r) for r in rows if r["URI"] != TOKEN_URI], "Logout"),
        ),
    ):
        record_id = stable_id("0AT", org.org_id, event_type, day)
        org.add_log_file(record_id, event_type, f"{day}T00:00:00.000+0000", body, created)
    return org


TOKEN_URI = "/services/oauth2/token"


def _oauth_token(user: str, n: int) -> dict[str, Any]:
    return {
        "attributes": {"type": "OauthToken"},
        "Id": None,
        "AppName": APP,
        "UserId": user,
        "CreatedDate": soql_time(START - timedelta(days=90 + n)),
        "LastUsedDate": soql_time(START + timedelta(hours=3, minutes=n)),
        "UseCount": 4000 + 17 * n,
        "AppMenuItemId": None,
    }


def _usage(app: FakeApp, user: str, username: str, n: int) -> dict[str, Any]:
    return {
        "accessTokenFormat": "Opaque",
        "appDeveloperName": app.name.replace(" ", "_"),
        "appIdentifier": app.app_id,
        "initialConnectionAt": soql_time(START - timedelta(days=90 + n)),
        "lastUsedAt": soql_time(START + timedelta(hours=3, minutes=n)),
        "revocationUrl": f"/services/data/v62.0/apps/oauth/usage/tokens/{stable_id('0Dn', user)}",
        "useCount": 4000 + 17 * n,
        "userIdentifier": user,
        "username": username,
    }


def _elf_login(login: dict[str, Any], org_id: str, username: str) -> dict[str, str]:
    """The Login file's row for a LoginHistory row (the same login, the file's codes)."""
    at = datetime.strptime(str(login["LoginTime"])[:19], "%Y-%m-%dT%H:%M:%S")
    oauth = login["LoginType"] == "Remote Access 2.0"
    key = str(login["Id"])
    return {
        "EVENT_TYPE": "Login",
        **elf.stamps(at, int(key[-3:], 36) % 1000),
        "REQUEST_ID": stable_id("4", "req", key)[:22],
        "ORGANIZATION_ID": org_id[:15],
        "USER_ID": str(login["UserId"])[:15],
        "RUN_TIME": "85",
        "CPU_TIME": "31",
        "URI": TOKEN_URI if oauth else "/index.jsp",
        "LOGIN_KEY": stable_id("LK", key)[:16],
        "USER_TYPE": "Standard",
        "REQUEST_STATUS": "Success" if login["Status"] == "Success" else "Failure",
        "DB_TOTAL_TIME": "1200000",
        "BROWSER_TYPE": "Java/17.0.9" if oauth else "Mozilla/5.0 Chrome/131.0",
        "API_VERSION": "62.0" if oauth else "9998.0",
        "USER_NAME": username,
        "TLS_PROTOCOL": "TLSv1.3",
        "CIPHER_SUITE": "TLS_AES_256_GCM_SHA384",
        "LOGIN_TYPE": elf.LOGIN_TYPE[str(login["LoginType"])],
        "LOGIN_SUB_TYPE": elf.SUB_TYPE[str(login["LoginSubType"])],
        "LOGIN_STATUS": elf.LOGIN_STATUS[str(login["Status"])],
        "USER_ID_DERIVED": str(login["UserId"]),
        "CLIENT_IP": str(login["SourceIp"]),
        "SOURCE_IP": str(login["SourceIp"]),
        "COUNTRY_CODE": "US",
    }


def _elf_logout(login: dict[str, str]) -> dict[str, str]:
    """A person's session ending 25 minutes after their browser login."""
    at = datetime.strptime(login["TIMESTAMP"][:14], "%Y%m%d%H%M%S") + timedelta(minutes=25)
    return {
        "EVENT_TYPE": "Logout",
        **elf.stamps(at, int(login["TIMESTAMP"][-3:])),
        "REQUEST_ID": stable_id("4", "out", login["REQUEST_ID"])[:22],
        "ORGANIZATION_ID": login["ORGANIZATION_ID"],
        "USER_ID": login["USER_ID"],
        "USER_TYPE": "S",
        "SESSION_KEY": stable_id("SK", login["LOGIN_KEY"])[:16],
        "LOGIN_KEY": login["LOGIN_KEY"],
        "SESSION_TYPE": "U",
        "SESSION_LEVEL": "1",
        "PLATFORM_TYPE": "1015",
        "RESOLUTION_TYPE": "9999",
        "APP_TYPE": "1000",
        "CLIENT_VERSION": "9998",
        "API_VERSION": "9998.0",
        "USER_INITIATED_LOGOUT": "1",
        "BROWSER_TYPE": "Chrome",
        "USER_ID_DERIVED": login["USER_ID_DERIVED"],
        "CLIENT_IP": login["CLIENT_IP"],
    }
