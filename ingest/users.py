"""Who the user ids are: the `users` table (migration 011) and what fills it.

Two doors, both set-based and inside the batch's transaction:

- the names logs carry beside an id (EventLogFile `USER_NAME`, the OAuth usage resources'
  `username`): `remember_event_names` keeps the newest per org × user as events are merged, so
  an imported file names its users without any API;
- Salesforce's User object, read by the `user` ingest source (`ingest/sources/user.py`) for the
  users the events mention: `remember_user_rows` upserts what a page of User records says.

`user_directory` (a view) gives one row per org × user: the User row's values, else the log's.
Which ids the `user` source asks for is `ids_to_read`: every id the org's events mention that
has no User row yet, or that has events stored since its row was read (active users are read
again, so a rename, a deactivation or a new profile shows on the next run).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote_plus

import duckdb

from .sqltext import quote_literal

SOURCE_ID = "soql:User"
FIELDS = ("Id", "Username", "Name", "IsActive", "Profile.Name", "LastModifiedDate")

# Salesforce: URI and headers together at most 16,384 bytes per REST call (414 / 431 past it),
# SOQL statements at most 100,000 characters (knowledge article 000386264; SOQL limits). The
# query travels in the URI, so each statement is kept to 8,000 URL-encoded bytes: half the
# budget, leaving the rest to the path, the bearer token and the other headers.
URI_BUDGET = 8000
_SAFE_ID = re.compile(r"^[a-zA-Z0-9]{18}$")


def remember_event_names(con: duckdb.DuckDBPyConnection, run_id: str, now_sql: str) -> None:
    """Keep the username the fresh rows of TEMP `event_candidates` carry, newest per user."""
    columns = {row[0] for row in con.execute("DESCRIBE event_candidates").fetchall()}
    if not {"user_id", "username", "_fresh"} <= columns:
        return
    con.execute(
        f"""INSERT INTO users (org_id, user_id, source, username, modified_at, read_at, run_id)
        SELECT org_id, user_id, 'event', arg_max(username, occurred_at), max(occurred_at),
               {now_sql}, {quote_literal(run_id)}
        FROM event_candidates
        WHERE _fresh AND user_id IS NOT NULL AND username IS NOT NULL AND username <> ''
        GROUP BY org_id, user_id
        ON CONFLICT (org_id, user_id, source) DO UPDATE SET
            username = CASE WHEN excluded.modified_at >= users.modified_at
                            OR users.modified_at IS NULL
                            THEN excluded.username ELSE users.username END,
            modified_at = greatest(users.modified_at, excluded.modified_at),
            read_at = excluded.read_at, run_id = excluded.run_id"""
    )


def remember_user_rows(con: duckdb.DuckDBPyConnection, run_id: str, now_sql: str) -> None:
    """Upsert the User records of TEMP `rec_batch` (every one read, fresh or not: an unchanged
    user is confirmed, so `ids_to_read` does not ask for it again until it is active again)."""
    con.execute(
        f"""INSERT INTO users (org_id, user_id, source, username, name, is_active, profile_name,
                               modified_at, read_at, run_id)
        SELECT org_id, sf_id18(p->>'Id'), 'User', p->>'Username', p->>'Name',
               TRY_CAST(p->>'IsActive' AS BOOLEAN), p->'Profile'->>'Name', occurred_at,
               {now_sql}, {quote_literal(run_id)}
        FROM (SELECT org_id, occurred_at, CAST(_payload AS JSON) AS p FROM rec_batch
              WHERE _source_id = '{SOURCE_ID}' AND _first)
        ON CONFLICT (org_id, user_id, source) DO UPDATE SET
            username = excluded.username, name = excluded.name,
            is_active = excluded.is_active, profile_name = excluded.profile_name,
            modified_at = excluded.modified_at, read_at = excluded.read_at,
            run_id = excluded.run_id"""
    )


IDS_TO_READ_SQL = """
SELECT e.user_id
FROM events e
LEFT JOIN users u ON u.org_id = e.org_id AND u.user_id = e.user_id AND u.source = 'User'
WHERE e.org_id = ? AND e.user_id IS NOT NULL
GROUP BY e.user_id
HAVING max(e.ingested_at) > coalesce(any_value(u.read_at), '-infinity'::TIMESTAMP)
ORDER BY e.user_id
"""


def ids_to_read(reader: duckdb.DuckDBPyConnection, org_id: str) -> list[str]:
    """The org's user ids to look up in User (see the module docstring); only well-formed
    18-character ids, the only text that goes into the query."""
    rows = reader.execute(IDS_TO_READ_SQL, [org_id]).fetchall()
    return [row[0] for row in rows if _SAFE_ID.match(row[0] or "")]


def user_queries(ids: list[str], budget: int = URI_BUDGET) -> Iterator[str]:
    """`SELECT … FROM User WHERE Id IN (…)` statements covering `ids`, each within `budget`
    URL-encoded bytes."""
    head = f"SELECT {', '.join(FIELDS)} FROM User WHERE Id IN ("
    fixed = len(quote_plus(head + ")"))
    chunk: list[str] = []
    size = fixed
    for user_id in ids:
        if not _SAFE_ID.match(user_id):
            raise ValueError(f"{user_id!r} is not an 18-character Salesforce id")
        cost = len(quote_plus(f"'{user_id}'")) + (len(quote_plus(", ")) if chunk else 0)
        if chunk and size + cost > budget:
            yield head + ", ".join(f"'{i}'" for i in chunk) + ")"
            chunk, size = [], fixed
            cost = len(quote_plus(f"'{user_id}'"))
        chunk.append(user_id)
        size += cost
    if chunk:
        yield head + ", ".join(f"'{i}'" for i in chunk) + ")"
