"""Merge a batch's normalized rows into `events`: one login seen by several sources is one row.

`EventMerger` is the half of `load.Loader` that computes event ids and merges; see
`normalize.py` for how a login's identity is defined.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from . import users
from .normalize import EVENT_COLUMNS, IDENTITY_KEY_SQL, event_id_sql
from .sqltext import quote_literal, timestamp_literal


def stored_span(con: duckdb.DuckDBPyConnection) -> str:
    """A filter on `events.occurred_at` that every stored event sharing an id with a fresh
    candidate passes, as constants: DuckDB then skips each row group of `events` outside it
    (it keeps min/max per group), so a batch's merge reads the batch's hours, not the whole
    store (at 10 M events, 0.3 s per batch).

    Why it holds: a login's id is its identity key (org, user, IP, the second, the outcome)
    and a merged login keeps a time within that second; every other event's id is its
    source's record key, and each source's key includes the time it records (ELF's row hash,
    a log line, an OauthToken snapshot's last use, an event's EventDate).
    """
    low, high = con.execute(
        "SELECT date_trunc('second', min(occurred_at)), "
        "date_trunc('second', max(occurred_at)) + INTERVAL 1 SECOND "
        "FROM event_candidates WHERE _fresh"
    ).fetchone()  # type: ignore[misc]
    if low is None:
        return "false"
    return f"occurred_at >= {timestamp_literal(low)} AND occurred_at < {timestamp_literal(high)}"


class EventMerger:
    """Needs the loader's connection, run id and clock."""

    con: duckdb.DuckDBPyConnection
    run_id: str
    now: datetime

    def _stage_candidates(self, select_sql: str) -> None:
        """TEMP `event_candidates`: normalized rows with their `event_id` (see normalize.py).

        Every login starts as ordinal 1 of its identity key. Only keys that repeat in this
        batch, or that this source already delivered, are renumbered; they are few, so no
        window sorts the whole batch.
        """
        con = self.con
        con.execute("DROP TABLE IF EXISTS event_candidates")
        con.execute(
            f"""CREATE TEMP TABLE event_candidates AS
            SELECT {event_id_sql("1", seen="0")} AS event_id, *
            FROM (SELECT {IDENTITY_KEY_SQL} AS identity_key, * FROM ({select_sql})) c"""
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE candidate_seen AS
            SELECT k.identity_key, k._source_id, count(*) AS seen
            FROM (SELECT DISTINCT identity_key, _source_id FROM event_candidates
                  WHERE _is_login AND _fresh) k
            JOIN (SELECT identity_key, sources FROM events WHERE {stored_span(con)}) e
              ON e.identity_key = k.identity_key AND list_contains(e.sources, k._source_id)
            GROUP BY ALL"""
        )
        con.execute(
            """CREATE OR REPLACE TEMP TABLE candidate_renumber AS
            WITH affected AS (
                SELECT identity_key, _source_id FROM candidate_seen
                UNION
                SELECT identity_key, _source_id FROM event_candidates
                WHERE _is_login AND _fresh GROUP BY ALL HAVING count(*) > 1)
            SELECT c.rowid AS candidate_row, {event_id} AS event_id
            FROM event_candidates c
            SEMI JOIN affected a ON a.identity_key = c.identity_key AND a._source_id = c._source_id
            LEFT JOIN candidate_seen s
                ON s.identity_key = c.identity_key AND s._source_id = c._source_id
            WHERE c._is_login AND c._fresh""".format(
                event_id=event_id_sql(
                    "row_number() OVER (PARTITION BY c.identity_key, c._source_id "
                    "ORDER BY c.occurred_at, c._record_key)",
                    seen="coalesce(s.seen, 0)",
                )
            )
        )
        con.execute(
            """UPDATE event_candidates SET event_id = r.event_id FROM candidate_renumber r
            WHERE event_candidates.rowid = r.candidate_row"""
        )
        con.execute("DROP TABLE candidate_seen")
        con.execute("DROP TABLE candidate_renumber")

    def merge_events(self) -> tuple[int, int]:
        """Merge fresh rows of TEMP `event_candidates` into events; return (new, enriched).

        A login already known from another source is enriched: empty fields are filled, the
        more precise timestamp wins (LoginHistory has whole seconds, ELF milliseconds), and
        the source is added to `sources`. Existing non-empty values are never overwritten.
        """
        con = self.con
        span = stored_span(con)
        # One pass: the key check and the new / enriched split.
        duplicated, new, enriched = con.execute(
            f"""SELECT count(*) - count(DISTINCT c.event_id),
                      count(*) FILTER (WHERE e.event_id IS NULL),
                      count(*) FILTER (WHERE e.event_id IS NOT NULL)
            FROM event_candidates c
            LEFT JOIN (SELECT event_id FROM events WHERE {span}) e USING (event_id)
            WHERE c._fresh"""
        ).fetchone()  # type: ignore[misc]
        if duplicated:
            raise AssertionError(f"{duplicated} candidate events share an event_id")
        now = timestamp_literal(self.now)
        staged = {row[0] for row in con.execute("DESCRIBE event_candidates").fetchall()}
        present = [col for col in EVENT_COLUMNS if col in staged]  # the rest stay NULL
        if enriched:
            fill = ",\n".join(
                f"{col} = coalesce(e.{col}, c.{col})"
                for col in present
                if col not in ("org_id", "occurred_at", "event_type")
            )
            con.execute(
                f"""UPDATE events e SET
                    occurred_at = greatest(e.occurred_at, c.occurred_at),
                    {fill},
                    sources = list_distinct(list_concat(e.sources, [c._source_id])),
                    updated_at = {now}
                FROM (SELECT * FROM event_candidates WHERE _fresh) c
                WHERE e.event_id = c.event_id AND {span.replace("occurred_at", "e.occurred_at")}"""
            )
        if new:
            columns = ", ".join(present)
            values = ", ".join(f"c.{col}" for col in present)
            anti_join = (
                "AND NOT EXISTS (SELECT 1 FROM events e "
                f"WHERE e.event_id = c.event_id AND {span.replace('occurred_at', 'e.occurred_at')})"
                if enriched
                else ""
            )
            con.execute(
                f"""INSERT INTO events
                    (event_id, identity_key, {columns}, sources, first_run_id, ingested_at,
                     updated_at)
                SELECT c.event_id, c.identity_key, {values}, [c._source_id],
                       {quote_literal(self.run_id)}, {now}, {now}
                FROM event_candidates c WHERE c._fresh {anti_join}"""
            )
        users.remember_event_names(con, self.run_id, now)
        con.execute("DROP TABLE IF EXISTS event_candidates")
        return new, enriched
