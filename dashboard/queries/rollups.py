"""Summaries of `events` the pages read instead of scanning millions of rows, kept after detect.

`refresh_rollups` runs wherever detection runs (the `detect` command, the nightly job, the
demo, the dashboard benchmark), so the dashboard never waits on a full scan:

- `egress_daily`: refresh-token uses per org × app × address × UTC day (the Apps page).
  Incremental: only the days holding events changed since the last refresh (by
  `events.updated_at`, which attribution also bumps when it names an event's app) are
  recomputed, so a nightly refresh touches a day or two.
- the controls snapshot of the default window (see controls_snapshot.py).
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from ingest.config import Config

from .controls_snapshot import refresh_controls_snapshot

EGRESS = "egress_daily"
# A refresh-token use: the refresh grant itself, seen as a login or in the partner's token log.
REFRESH_USE = (
    "e.grant_type = 'refresh_token' AND e.event_type IN ('login', 'token_exchange') "
    "AND e.source_ip IS NOT NULL"
)
EGRESS_ROWS_SQL = f"""
SELECT e.org_id, coalesce(e.app_name, e.inferred_app, '(unknown app)') AS app,
       e.source_ip AS ip, e.occurred_at::DATE AS day, count(*) AS uses,
       count(*) FILTER (WHERE e.is_success = false) AS failures,
       min(e.occurred_at) AS first_seen_at, max(e.occurred_at) AS last_seen_at
FROM events e WHERE {REFRESH_USE} AND {{days}} GROUP BY ALL
"""


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    # A store migrated before the roll-up existed is read live by the page instead.
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]
    ).fetchone()
    return bool(found and found[0])


def _events_mark(con: duckdb.DuckDBPyConnection) -> tuple[datetime | None, int]:
    """What the roll-up has seen of `events`: its newest updated_at and its row count."""
    row = con.execute("SELECT max(updated_at), count(*) FROM events").fetchone()
    assert row is not None
    return row[0], int(row[1])


def egress_ready(con: duckdb.DuckDBPyConnection) -> bool:
    """True when `egress_daily` holds every event the store has (no refresh pending)."""
    if not _has_table(con, EGRESS):
        return False
    state = con.execute(
        "SELECT events_through, events_count FROM rollup_state WHERE name = ?", [EGRESS]
    ).fetchone()
    return state is not None and (state[0], int(state[1])) == _events_mark(con)


def refresh_egress(con: duckdb.DuckDBPyConnection, *, now: datetime) -> int:
    """Recompute the days that changed since the last refresh; returns the days rewritten."""
    if not _has_table(con, EGRESS):
        return 0
    state = con.execute(
        "SELECT events_through, events_count FROM rollup_state WHERE name = ?", [EGRESS]
    ).fetchone()
    newest, count = _events_mark(con)
    if state is not None and (state[0], int(state[1])) == (newest, count):
        return 0
    through = state[0] if state else None
    if through is not None and newest == through:
        through = None  # rows arrived without a newer stamp: which days they touch is unknown
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE egress_days AS "
            "SELECT DISTINCT e.occurred_at::DATE AS day FROM events e "
            f"WHERE {REFRESH_USE} AND (? IS NULL OR e.updated_at > ?)",
            [through, through],
        )
        days = con.execute("SELECT count(*) FROM egress_days").fetchone()[0]  # type: ignore[index]
        con.execute(f"DELETE FROM {EGRESS} WHERE day IN (SELECT day FROM egress_days)")
        con.execute(
            f"INSERT INTO {EGRESS} "
            + EGRESS_ROWS_SQL.format(days="e.occurred_at::DATE IN (SELECT day FROM egress_days)")
        )
        con.execute(
            """INSERT INTO rollup_state VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET
               events_through = excluded.events_through, events_count = excluded.events_count,
               refreshed_at = excluded.refreshed_at""",
            [EGRESS, newest, count, now],
        )
        con.execute("DROP TABLE egress_days")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(days)


def refresh_rollups(con: duckdb.DuckDBPyConnection, config: Config, *, now: datetime) -> None:
    """Everything the pages read pre-computed; call after every detect run."""
    refresh_egress(con, now=now)
    refresh_controls_snapshot(con, config, now=now)
