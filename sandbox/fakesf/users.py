"""The fake org's User object: one row per user the org holds (`FakeOrg.users`).

Fields as the User object reference lists them: `Id`, `Username`, `Name` (read-only, the first
and last name), `IsActive`, `ProfileId` with the `Profile` relationship (`Profile.Name`), and
`LastModifiedDate`. `FakeOrg.user_details` overrides a user's fields (a deactivated user, a
display name, a profile). Visibility follows a user sharing default of Private: without Manage
Users the running user sees only their own row (Salesforce filters quietly, it never refuses).
"""

from __future__ import annotations

from typing import Any

from .model import FakeOrg

DEFAULT_MODIFIED = "2026-01-05T09:30:00.000+0000"
URI_AND_HEADERS_MAX = 16_384
"""REST API: each call's URI and headers together at most 16,384 bytes (knowledge article
000386264); past it Salesforce answers 414 (URI) or 431 (headers). The User lookups put their
id lists in the URI, so the fake holds every query to it."""


def display_name(username: str) -> str:
    """ "jane.doe@northwind.example" → "Jane Doe": the name a person would have been given."""
    local = username.split("@", 1)[0]
    return " ".join(part.capitalize() for part in local.replace("_", ".").split(".") if part)


def _profile(name: str) -> dict[str, Any]:
    return {"attributes": {"type": "Profile"}, "Name": name}


def user_records(org: FakeOrg, running_user: str | None) -> list[dict[str, Any]]:
    records = []
    for username, user_id in org.users.items():
        if not user_id:
            continue
        details = dict(org.user_details.get(user_id, {}))
        profile = str(details.pop("Profile", "Standard User"))
        record = {
            "attributes": {"type": "User", "url": f"/services/data/v60.0/sobjects/User/{user_id}"},
            "Id": user_id,
            "Username": username,
            "Name": display_name(username),
            "IsActive": True,
            "Profile": _profile(profile),
            "LastModifiedDate": DEFAULT_MODIFIED,
            **details,
        }
        records.append(record)
    if not org.permissions.get("PermissionsManageUsers"):
        return [r for r in records if r["Id"] == running_user]
    return records
