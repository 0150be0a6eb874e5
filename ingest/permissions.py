"""What the integration user may see, from `UserPermissionAccess` (the running user's effective
permissions, API 40.0+).

Salesforce does not refuse a query the user lacks the permission for: OauthToken quietly lists
only the user's own tokens without Customize Application, and LoginHistory only the user's own
logins without Manage Users (object reference, "Special Access Rules" of both objects). So each
run checks, and a source whose data is cut short this way is reported `partial` with the missing
permission, instead of looking complete.
"""

from __future__ import annotations

from dataclasses import dataclass

from .salesforce import NotAvailable, OrgError, OrgSession
from .source import Notice

# permission field → (label in Setup, {source id: what is lost without it})
NEEDED: dict[str, tuple[str, dict[str, str]]] = {
    "PermissionsApiEnabled": ("API Enabled", {}),
    "PermissionsCustomizeApplication": (
        "Customize Application",
        {"oauth_token": "OauthToken lists only the integration user's own tokens"},
    ),
    "PermissionsManageUsers": (
        "Manage Users",
        {
            "login_history": (
                "LoginHistory lists only the integration user's own logins, no LoginGeo"
            ),
            "user": "User may list only the users the org's sharing shows (View All Users)",
        },
    ),
    "PermissionsViewEventLogFiles": (
        "View Event Log Files",
        {"event_log_file": "EventLogFile cannot be read"},
    ),
}
# View All Data grants event log files too (EventLogFile object reference, "Special Access Rules").
IMPLIED_BY = {"PermissionsViewEventLogFiles": "PermissionsViewAllData"}


@dataclass(frozen=True)
class Permissions:
    granted: dict[str, bool]
    unchecked_reason: str | None = None

    def missing(self) -> list[str]:
        return [
            name
            for name in NEEDED
            if not self.granted.get(name) and not self.granted.get(IMPLIED_BY.get(name, ""))
        ]


def check(session: OrgSession) -> Permissions:
    fields = ", ".join([*NEEDED, *IMPLIED_BY.values()])
    try:
        records = next(session.query_pages(f"SELECT {fields} FROM UserPermissionAccess"), [])
    except (NotAvailable, OrgError) as exc:
        return Permissions({}, f"permissions not checked: {exc}")
    if not records:
        return Permissions({}, "permissions not checked: UserPermissionAccess returned no row")
    row = records[0]
    return Permissions({name: row.get(name) is True for name in [*NEEDED, *IMPLIED_BY.values()]})


def notices(source_id: str, permissions: Permissions) -> list[Notice]:
    """What this source loses to the user's missing permissions, as notices for its unit."""
    if permissions.unchecked_reason:
        return [Notice("info", permissions.unchecked_reason)]
    missing = permissions.missing()
    found = []
    for name in missing:
        label, losses = NEEDED[name]
        if source_id in losses:
            found.append(
                Notice(
                    "partial",
                    f"the integration user lacks {label}: {losses[source_id]}",
                    {"missing_permissions": [label]},
                )
            )
    if "PermissionsApiEnabled" in missing:  # every source needs it; say so on each unit
        found.append(
            Notice(
                "info",
                "the integration user lacks API Enabled",
                {"missing_permissions": ["API Enabled"]},
            )
        )
    return found
