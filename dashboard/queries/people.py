"""People by name: the one join every surface uses to show a user id as its username.

`user_directory` (migration 011) holds one row per org × user: the User object's Username,
Name, IsActive and Profile.Name when ingest read them, else the username the logs carried
(EventLogFile USER_NAME). Alerts, incidents, search, the digest, the evidence pack and the
notebooks all read names through `user_join`, so a name learned later shows everywhere at once.
"""

from __future__ import annotations

from typing import Any

import duckdb


def user_join(alias: str, directory: str = "ud") -> str:
    """`LEFT JOIN user_directory` onto the rows of `alias` (which has org_id and user_id)."""
    return (
        f"LEFT JOIN user_directory {directory} "
        f"ON {directory}.org_id = {alias}.org_id AND {directory}.user_id = {alias}.user_id"
    )


def user_columns(directory: str = "ud") -> str:
    return (
        f"{directory}.username AS username, {directory}.name AS user_full_name, "
        f"{directory}.is_active AS user_is_active, {directory}.profile_name AS user_profile"
    )


def person(con: duckdb.DuckDBPyConnection, org_id: str | None, user_id: str | None) -> dict:
    """One user's directory entry (empty when nothing names them)."""
    if not org_id or not user_id:
        return {}
    cursor = con.execute(
        "SELECT username, name, is_active, profile_name, from_user_object FROM user_directory "
        "WHERE org_id = ? AND user_id = ?",
        [org_id, user_id],
    )
    row = cursor.fetchone()
    if row is None:
        return {}
    names = [d[0] for d in cursor.description]  # type: ignore[union-attr]
    return dict(zip(names, row, strict=True))


def user_label(username: Any, user_id: Any) -> str | None:
    """How a user reads in a sentence: the username, else the id."""
    for value in (username, user_id):
        if isinstance(value, str) and value:
            return value
    return None
