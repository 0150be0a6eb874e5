"""Write a batch of vendor rows into the store: quarantine → raw → normalized events.

Shared by `tokensentry import` (files) and `tokensentry ingest` (Salesforce APIs), so both
paths dedupe, quarantine and normalize identically. Each batch is one transaction: raw rows,
events and quarantine rows commit together or not at all, so a crash never leaves half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from .normalize import (
    ELF_COLUMNS_READ,
    ELF_EVENT_TYPES,
    ELF_EVENTS_SQL,
    ELF_PROBLEM_SQL,
    ELF_TIME_SQL,
    EVENT_COLUMN_TYPES,
    EVENT_COLUMNS,
    EVENT_ID_SQL,
    IDENTITY_KEY_SQL,
)

_ARROW_TYPES = {
    "TIMESTAMP": pa.timestamp("us"),
    "BOOLEAN": pa.bool_(),
    "DOUBLE": pa.float64(),
    "BIGINT": pa.int64(),
}


@dataclass
class BatchResult:
    rows_read: int = 0
    rows_new: int = 0
    rows_quarantined: int = 0
    events_new: int = 0
    events_enriched: int = 0

    def add(self, other: BatchResult) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class Problem:
    """A row that cannot be loaded: where it is, why, and its text as read."""

    line: int | None
    reason: str
    raw_text: str | None = None


@dataclass
class StagedRecord:
    """One SOQL record or partner-log line, validated, with its normalized event (if any)."""

    org_id: str
    source_id: str
    record_id: str
    occurred_at: datetime | None
    payload: dict[str, Any]
    line: int | None
    event: dict[str, Any] | None = None
    is_login: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class Loader:
    """Loads batches for one run. `now` is passed in so tests pin time without patching."""

    def __init__(self, con: duckdb.DuckDBPyConnection, *, run_id: str, now: datetime) -> None:
        self.con = con
        self.run_id = run_id
        self.now = now

    # -- quarantine ---------------------------------------------------------------------------

    def quarantine(self, origin: str, input_key: str, problems: Iterable[Problem]) -> int:
        rows = [
            (
                hashlib.md5(f"{input_key}|{p.line}|{p.reason}".encode()).hexdigest(),
                self.run_id,
                origin,
                p.line,
                p.reason,
                p.raw_text[:4000] if p.raw_text else None,
                self.now,
            )
            for p in problems
        ]
        if rows:
            self.con.executemany(
                "INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", rows
            )
        return len(rows)

    # -- EventLogFile rows --------------------------------------------------------------------

    def load_elf(
        self,
        stage: str,
        columns: list[str],
        *,
        origin: str,
        input_key: str,
        default_org: str | None,
        locate_lines: Callable[[list[int]], dict[int, int]] | None = None,
    ) -> BatchResult:
        """Load the ELF rows staged in TEMP table `stage` (VARCHAR columns named as in the file).

        `stage` may carry a `_line` column; otherwise `locate_lines(ordinals)` maps the 0-based
        positions of quarantined rows to file lines (only called when a row is quarantined).
        """
        con = self.con
        stage_cols = {row[0] for row in con.execute(f"DESCRIBE {stage}").fetchall()}
        for name in ELF_COLUMNS_READ:
            if name not in stage_cols:
                con.execute(f"ALTER TABLE {stage} ADD COLUMN {quote_ident(name)} VARCHAR")
        line_expr = "_line" if "_line" in stage_cols else "CAST(NULL AS BIGINT)"
        record_hash = "md5_number(concat_ws(chr(31), {}))".format(
            ", ".join(
                f"CASE WHEN {quote_ident(c)} <> '' "
                f"THEN {quote_literal(c + '=')} || {quote_ident(c)} END"
                for c in sorted(columns)
            )
        )
        org_literal = quote_literal(default_org) if default_org else "NULL"
        types = ", ".join(quote_literal(t) for t in ELF_EVENT_TYPES)
        con.execute("DROP TABLE IF EXISTS elf_batch")
        con.execute(
            f"""CREATE TEMP TABLE elf_batch AS
            SELECT *, {ELF_PROBLEM_SQL.format(types=types)} AS _problem,
                   row_number() OVER (PARTITION BY _org_id, _record_id ORDER BY _ordinal) = 1
                       AS _first
            FROM (SELECT rowid AS _ordinal, *, {line_expr} AS _line_no,
                         sf_id18(coalesce(nullif(ORGANIZATION_ID, ''), {org_literal})) AS _org_id,
                         {record_hash} AS _record_id, {ELF_TIME_SQL} AS _occurred_at
                  FROM {stage})"""
        )
        result = BatchResult(
            rows_read=con.execute("SELECT count(*) FROM elf_batch").fetchone()[0]  # type: ignore[index]
        )
        result.rows_quarantined = self._quarantine_elf(columns, origin, input_key, locate_lines)
        self._add_raw_elf_columns(columns)
        con.execute(
            """CREATE OR REPLACE TEMP VIEW elf_batch_v AS
            SELECT *, _problem IS NULL AND _first AND NOT EXISTS (
                SELECT 1 FROM raw_elf r WHERE r._org_id = b._org_id AND r._record_id = b._record_id
            ) AS _fresh FROM elf_batch b"""
        )
        events_sql = ELF_EVENTS_SQL.format(batch="elf_batch_v", types=types)
        # Duplicated rows of one file are dropped before ordinals are taken, so a file with a
        # repeated line fingerprints its logins exactly like a file without it.
        events_sql = events_sql.replace(
            "WHERE _problem IS NULL", "WHERE _problem IS NULL AND _first"
        )
        self._begin()
        try:
            self._stage_candidates(events_sql)
            new, enriched = self.merge_events()
            original = ", ".join(quote_ident(c) for c in columns)
            inserted = con.execute(
                f"""INSERT INTO raw_elf BY NAME
                SELECT {original}, _org_id, _record_id, _occurred_at,
                       {quote_literal(origin)} AS _origin, _line_no AS _line,
                       {quote_literal(self.run_id)} AS _run_id,
                       CAST({quote_literal(self.now.isoformat())} AS TIMESTAMP) AS _fetched_at
                FROM elf_batch_v WHERE _fresh"""
            ).fetchone()[0]  # type: ignore[index]
            self._commit()
        except BaseException:
            self._rollback()
            raise
        finally:
            con.execute("DROP VIEW IF EXISTS elf_batch_v")
            con.execute("DROP TABLE IF EXISTS elf_batch")
        result.rows_new = inserted
        result.events_new, result.events_enriched = new, enriched
        return result

    def _quarantine_elf(
        self,
        columns: list[str],
        origin: str,
        input_key: str,
        locate_lines: Callable[[list[int]], dict[int, int]] | None,
    ) -> int:
        selected = ", ".join(quote_ident(c) for c in columns)
        bad = self.con.execute(
            f"SELECT _ordinal, _line_no, _problem, {selected} FROM elf_batch "
            "WHERE _problem IS NOT NULL ORDER BY _ordinal"
        ).fetchall()
        if not bad:
            return 0
        missing = [row[0] for row in bad if row[1] is None]
        lines = locate_lines(missing) if (missing and locate_lines) else {}
        problems = [
            Problem(
                line=row[1] if row[1] is not None else lines.get(row[0]),
                reason=row[2],
                raw_text=json.dumps(dict(zip(columns, row[3:], strict=True))),
            )
            for row in bad
        ]
        self._begin()
        try:
            count = self.quarantine(origin, input_key, problems)
            self._commit()
        except BaseException:
            self._rollback()
            raise
        return count

    def _add_raw_elf_columns(self, columns: list[str]) -> None:
        known = {row[0].upper() for row in self.con.execute("DESCRIBE raw_elf").fetchall()}
        for name in columns:
            if name.upper() not in known:
                self.con.execute(f"ALTER TABLE raw_elf ADD COLUMN {quote_ident(name)} VARCHAR")
                known.add(name.upper())

    # -- SOQL records and partner logs --------------------------------------------------------

    def load_records(self, records: list[StagedRecord], *, origin: str) -> BatchResult:
        result = BatchResult(rows_read=len(records))
        if not records:
            return result
        con = self.con
        con.register("records_arrow", _records_table(records, origin))
        con.execute("DROP TABLE IF EXISTS rec_batch")
        con.execute(
            """CREATE TEMP TABLE rec_batch AS SELECT *,
                row_number() OVER (PARTITION BY org_id, _source_id, _record_key ORDER BY _ordinal)
                    = 1 AS _first
            FROM records_arrow"""
        )
        con.unregister("records_arrow")
        con.execute(
            """CREATE OR REPLACE TEMP VIEW rec_batch_v AS
            SELECT *, _first AND NOT EXISTS (
                SELECT 1 FROM raw_records r WHERE r.org_id = b.org_id
                  AND r.source_id = b._source_id AND r.record_id = b._record_key
            ) AS _fresh FROM rec_batch b"""
        )
        self._begin()
        try:
            self._stage_candidates(
                "SELECT * EXCLUDE (_payload, _line, _ordinal, _first, _has_event) "
                "FROM rec_batch_v WHERE _has_event AND _first"
            )
            result.events_new, result.events_enriched = self.merge_events()
            result.rows_new = con.execute(
                f"""INSERT INTO raw_records
                SELECT org_id, _source_id, _record_key, occurred_at, _payload,
                       {quote_literal(origin)} || coalesce(':' || _line, ''),
                       {quote_literal(self.run_id)},
                       CAST({quote_literal(self.now.isoformat())} AS TIMESTAMP)
                FROM rec_batch_v WHERE _fresh"""
            ).fetchone()[0]  # type: ignore[index]
            self._commit()
        except BaseException:
            self._rollback()
            raise
        finally:
            con.execute("DROP VIEW IF EXISTS rec_batch_v")
            con.execute("DROP TABLE IF EXISTS rec_batch")
        return result

    # -- events ---------------------------------------------------------------------------------

    def _stage_candidates(self, select_sql: str) -> None:
        """TEMP `event_candidates`: normalized rows with their `event_id` (see normalize.py)."""
        con = self.con
        con.execute("DROP TABLE IF EXISTS event_candidates")
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE candidate_rows AS "
            f"SELECT {IDENTITY_KEY_SQL} AS identity_key, * FROM ({select_sql})"
        )
        con.execute(
            """CREATE OR REPLACE TEMP TABLE candidate_seen AS
            SELECT k.identity_key, k._source_id, count(*) AS seen
            FROM (SELECT DISTINCT identity_key, _source_id FROM candidate_rows
                  WHERE _is_login AND _fresh) k
            JOIN events e ON e.identity_key = k.identity_key
                         AND list_contains(e.sources, k._source_id)
            GROUP BY ALL"""
        )
        con.execute(
            f"""CREATE TEMP TABLE event_candidates AS
            SELECT {EVENT_ID_SQL} AS event_id, c.*
            FROM candidate_rows c LEFT JOIN candidate_seen s USING (identity_key, _source_id)"""
        )
        con.execute("DROP TABLE candidate_rows")
        con.execute("DROP TABLE candidate_seen")

    def merge_events(self) -> tuple[int, int]:
        """Merge fresh rows of TEMP `event_candidates` into events; return (new, enriched).

        A login already known from another source is enriched: empty fields are filled, the
        more precise timestamp wins (LoginHistory has whole seconds, ELF milliseconds), and
        the source is added to `sources`. Existing non-empty values are never overwritten.
        """
        con = self.con
        new, enriched = con.execute(
            """SELECT count(*) FILTER (WHERE e.event_id IS NULL),
                      count(*) FILTER (WHERE e.event_id IS NOT NULL)
            FROM event_candidates c LEFT JOIN events e USING (event_id) WHERE c._fresh"""
        ).fetchone()  # type: ignore[misc]
        now = f"CAST({quote_literal(self.now.isoformat())} AS TIMESTAMP)"
        fill = ",\n".join(
            f"{col} = coalesce(e.{col}, c.{col})"
            for col in EVENT_COLUMNS
            if col not in ("org_id", "occurred_at", "event_type")
        )
        columns = ", ".join(EVENT_COLUMNS)
        values = ", ".join(f"c.{col}" for col in EVENT_COLUMNS)
        con.execute(
            f"""MERGE INTO events e
            USING (SELECT * FROM event_candidates WHERE _fresh
                   QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY _record_key) = 1) c
            ON e.event_id = c.event_id
            WHEN MATCHED THEN UPDATE SET
                occurred_at = greatest(e.occurred_at, c.occurred_at),
                {fill},
                sources = list_distinct(list_concat(e.sources, [c._source_id])),
                updated_at = {now}
            WHEN NOT MATCHED THEN INSERT
                (event_id, identity_key, {columns}, sources, first_run_id, ingested_at, updated_at)
                VALUES (c.event_id, c.identity_key, {values}, [c._source_id],
                        {quote_literal(self.run_id)},
                        {now}, {now})"""
        )
        con.execute("DROP TABLE IF EXISTS event_candidates")
        return new, enriched

    # -- transactions ---------------------------------------------------------------------------

    def _begin(self) -> None:
        self.con.execute("BEGIN TRANSACTION")

    def _commit(self) -> None:
        self.con.execute("COMMIT")

    def _rollback(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self.con.execute("ROLLBACK")


def _records_table(records: list[StagedRecord], origin: str) -> pa.Table:
    meta: dict[str, tuple[pa.DataType, list[Any]]] = {
        "org_id": (pa.string(), [r.org_id for r in records]),
        "_source_id": (pa.string(), [r.source_id for r in records]),
        "_record_key": (pa.string(), [r.record_id for r in records]),
        "_payload": (pa.string(), [json.dumps(r.payload, default=str) for r in records]),
        "_line": (pa.int64(), [r.line for r in records]),
        "_ordinal": (pa.int64(), list(range(len(records)))),
        "_has_event": (pa.bool_(), [r.event is not None for r in records]),
        "_is_login": (pa.bool_(), [r.is_login for r in records]),
    }
    columns: dict[str, pa.Array] = {
        name: pa.array(values, type=kind) for name, (kind, values) in meta.items()
    }
    for name in EVENT_COLUMNS:
        if name == "org_id":
            continue
        kind = _ARROW_TYPES.get(EVENT_COLUMN_TYPES.get(name, ""), pa.string())
        if name == "occurred_at":
            values = [r.occurred_at for r in records]
        else:
            values = [r.event.get(name) if r.event else None for r in records]
        columns[name] = pa.array(values, type=kind)
    return pa.table(columns)
