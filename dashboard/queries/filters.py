"""What every list on every surface is filtered by, and the default window.

The default window ends at the newest event in the store, not at the wall clock: a store built
from last quarter's exports must not open on an empty page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import duckdb

from ingest.timeparse import now_utc


@dataclass(frozen=True)
class Filters:
    """Every field narrows the result; None or empty means "no restriction"."""

    org_ids: Sequence[str] = ()
    apps: Sequence[str] = ()  # app names, compared case-insensitively
    start: datetime | None = None  # overlaps [start, end]: last seen at or after start ...
    end: datetime | None = None  # ... and first seen at or before end
    statuses: Sequence[str] = ()  # new | acknowledged | resolved | false_positive
    severities: Sequence[str] = ()  # exact severities, e.g. ("high", "critical")
    detectors: Sequence[str] = ()
    ip: str | None = None  # exact address among the row's IPs
    text: str | None = None  # case-insensitive substring of id, summary, app, user or IP

    def with_window(self, window: tuple[datetime, datetime]) -> Filters:
        return replace(self, start=window[0], end=window[1])


def newest_event(con: duckdb.DuckDBPyConnection) -> datetime | None:
    return con.execute("SELECT max(occurred_at) FROM events").fetchone()[0]  # type: ignore[index]


def default_window(con: duckdb.DuckDBPyConnection, days: int = 30) -> tuple[datetime, datetime]:
    """(start, end): `days` ending at the newest event; the wall clock only for an empty store."""
    end = newest_event(con) or now_utc()
    return end - timedelta(days=days), end


def day_window(window: tuple[datetime, datetime]) -> tuple[datetime, datetime]:
    """The same window in whole UTC days, as the dashboard's date picker gives it: from the
    first day's midnight to the last microsecond of the last day."""
    start, end = window
    first = datetime.combine(start.date(), datetime.min.time())
    last = datetime.combine(end.date(), datetime.min.time()) + timedelta(days=1, microseconds=-1)
    return first, last


def default_filters(con: duckdb.DuckDBPyConnection, days: int = 30) -> Filters:
    return Filters().with_window(default_window(con, days))


def where(
    filters: Filters, alias: str, *, status_sql: str, detectors_sql: str, id_sql: str
) -> tuple[str, list[Any]]:
    """SQL predicate + parameters for a row with the alert/incident columns under `alias`.

    The row's triage status, detectors (a list) and id are expressions that differ per table.
    """
    clauses: list[str] = []
    params: list[Any] = []
    if filters.org_ids:
        clauses.append(f"list_contains(?, {alias}.org_id)")
        params.append(list(filters.org_ids))
    if filters.apps:
        clauses.append(f"list_contains(?, lower({alias}.app_name))")
        params.append([app.lower() for app in filters.apps])
    if filters.start is not None:
        clauses.append(f"{alias}.last_seen_at >= ?")
        params.append(filters.start)
    if filters.end is not None:
        clauses.append(f"{alias}.first_seen_at <= ?")
        params.append(filters.end)
    if filters.statuses:
        clauses.append(f"list_contains(?, {status_sql})")
        params.append(list(filters.statuses))
    if filters.severities:
        clauses.append(f"list_contains(?, {alias}.severity)")
        params.append(list(filters.severities))
    if filters.detectors:
        clauses.append(f"list_has_any(?, {detectors_sql})")
        params.append(list(filters.detectors))
    if filters.ip:
        clauses.append(f"list_contains({alias}.ips, ?)")
        params.append(filters.ip.strip())
    if filters.text:
        needle = f"%{_escape_like(filters.text.strip().lower())}%"
        fields = " || ' ' || ".join(
            [
                f"coalesce(lower({alias}.{column}), '')"
                for column in ("summary", "app_name", "user_id", "org_id")
            ]
            + [f"array_to_string({alias}.ips, ' ')", f"lower({id_sql})"]
        )
        # The user's username or name too (`user_directory`): the queue finds people by name.
        clauses.append(
            f"(({fields}) LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM user_directory ud "
            f"WHERE ud.org_id = {alias}.org_id AND ud.user_id = {alias}.user_id "
            "AND (lower(ud.username) LIKE ? ESCAPE '\\' OR lower(ud.name) LIKE ? ESCAPE '\\')))"
        )
        params.extend([needle, needle, needle])
    return " AND ".join(clauses) or "true", params


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
