"""What a fake org holds: users, apps, records per SOQL object, log files, OAuth usage, faults."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..salesforce import event_log_file


class ApiError(Exception):
    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_code, self.message = status, error_code, message


@dataclass
class Faults:
    """Switches, each naming the org's n-th API request (1-based) it fires on.

    The count covers every REST request the org receives (not the token endpoint), so a test
    can put a fault between two pages of one query.
    """

    server_error_on: set[int] = field(default_factory=set)  # HTTP 500
    expire_session_on: set[int] = field(default_factory=set)  # 401 INVALID_SESSION_ID
    limit_exceeded_on: set[int] = field(default_factory=set)  # 403 REQUEST_LIMIT_EXCEEDED
    slow_seconds: float = 0.0  # added to every API response
    truncate_log_files: bool = False  # LogFile bodies cut in half
    locked: bool = False  # the token endpoint answers inactive_org
    usage_ignores_page: bool = False  # the apps listing answers page 0 whatever is asked
    usage_endless: bool = False  # the apps listing returns a new app on every page, forever
    usage_shape: str = (
        "public"  # public | token_spelling (apps list spelling), unrecognised, absent
    )


@dataclass
class FakeApp:
    name: str
    consumer_key: str
    app_id: str
    consumer_secret: str | None = None
    certificate_pem: bytes | None = None  # for the JWT bearer flow
    callback_urls: tuple[str, ...] = ()  # for the web server (authorization code) flow
    external_client_app: bool = True  # False: a Connected App, invisible to the usage resources


@dataclass
class FakeOrg:
    org_id: str
    alias: str
    users: dict[str, str]  # username → user id
    apps: list[FakeApp]
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    log_files: dict[str, bytes] = field(default_factory=dict)  # EventLogFile Id → CSV
    oauth_usage: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    """app id → user id → refresh tokens (Connect REST "App OAuth Usage Token" objects)."""
    user_details: dict[str, dict[str, Any]] = field(default_factory=dict)
    """user id → User fields overriding the defaults (`users.py`): Name, IsActive, Profile."""
    licensed_objects: set[str] = field(
        default_factory=lambda: {
            "LoginHistory", "OauthToken", "EventLogFile", "Organization", "UserPermissionAccess",
            "User",
        }
    )  # fmt: skip
    permissions: dict[str, bool] = field(
        default_factory=lambda: dict.fromkeys(
            (
                "PermissionsApiEnabled", "PermissionsCustomizeApplication",
                "PermissionsManageUsers", "PermissionsViewEventLogFiles", "PermissionsViewAllData",
            ),
            True,
        )
    )  # fmt: skip
    """The running user's effective permissions, as UserPermissionAccess reports them."""
    daily_api_max: int = 100_000
    api_used: int = 0
    faults: Faults = field(default_factory=Faults)
    requests_seen: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def next_request(self) -> int:
        with self.lock:
            self.requests_seen += 1
            self.api_used += 1
            return self.requests_seen

    def add_log_file(
        self,
        record_id: str,
        event_type: str,
        log_date: str,
        body: bytes,
        created: datetime,
        *,
        interval: str = "Daily",
        sequence: int = 0,
    ) -> None:
        """Serve an event log file: listed in EventLogFile, its body at `LogFile`."""
        self.log_files[record_id] = body
        listing = self.objects.setdefault("EventLogFile", [])
        listing.append(
            event_log_file(record_id, event_type, log_date, interval, sequence, created, len(body))
        )
