"""Write a batch of vendor rows into the store: quarantine → raw → normalized events.

Shared by `tokensentry import` (files) and `tokensentry ingest` (Salesforce APIs), so both
paths dedupe, quarantine and normalize identically. Each batch is one transaction: raw rows,
events and quarantine rows commit together or not at all, so a crash never leaves half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from . import users
from .batch import SALESFORCE_IP_MARKER, BatchResult, Problem
from .elf_load import ElfLoading
from .field_limits import cap_reason, cap_records
from .formats.redact import (
    redact,
    scrub_optional,
    scrub_text,
)
from .merge import EventMerger
from .normalize import EVENT_COLUMN_TYPES, EVENT_COLUMNS
from .sqltext import quote_literal, timestamp_literal

__all__ = [
    "SALESFORCE_IP_MARKER",
    "BatchResult",
    "Loader",
    "Problem",
    "StagedRecord",
    "quote_literal",
]

_ARROW_TYPES = {
    "TIMESTAMP": pa.timestamp("us"),
    "BOOLEAN": pa.bool_(),
    "DOUBLE": pa.float64(),
    "BIGINT": pa.int64(),
}


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
    # True when `record_id` fixes `occurred_at` (a login's Id, a log line): the dedupe may then
    # look only at stored records of the batch's hours. False for a record stamped with when
    # it was read (Organization) or one no source vouched for.
    key_fixes_time: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class Loader(ElfLoading, EventMerger):
    """Loads batches for one run. `now` is passed in so tests pin time without patching."""

    def __init__(self, con: duckdb.DuckDBPyConnection, *, run_id: str, now: datetime) -> None:
        self.con = con
        self.run_id = run_id
        self.now = now

    # -- quarantine ---------------------------------------------------------------------------

    def quarantine(self, origin: str, input_key: str, problems: Iterable[Problem]) -> int:
        """Write one quarantine entry per problem not quarantined before; return how many
        were written, which is what the run reports as `rows_quarantined`.

        Reasons and raw text are scrubbed of secrets here, the one door into the table. An
        entry's id is its input, place (line or record index), reason and text, so importing
        a file again or re-reading an API page adds nothing, and two rejected records of one
        page never collapse into one entry.
        """
        rows = []
        for problem in map(cap_reason, problems):
            raw = scrub_optional(problem.raw_text[:4000] if problem.raw_text else None)
            reason = scrub_text(problem.reason)
            identity = "|".join(
                str(part) for part in (input_key, problem.line, problem.record_index, reason, raw)
            )
            rows.append(
                (
                    hashlib.md5(identity.encode()).hexdigest(),
                    self.run_id,
                    scrub_text(origin),
                    problem.line,
                    reason,
                    raw,
                    self.now,
                    problem.record_index,
                )
            )
        if not rows:
            return 0
        table = pa.table(
            {
                "quarantine_id": pa.array([r[0] for r in rows], pa.string()),
                "run_id": pa.array([r[1] for r in rows], pa.string()),
                "origin": pa.array([r[2] for r in rows], pa.string()),
                "line": pa.array([r[3] for r in rows], pa.int64()),
                "reason": pa.array([r[4] for r in rows], pa.string()),
                "raw_text": pa.array([r[5] for r in rows], pa.string()),
                "quarantined_at": pa.array([r[6] for r in rows], pa.timestamp("us")),
                "record_index": pa.array([r[7] for r in rows], pa.int64()),
            }
        )
        self.con.register("quarantine_arrow", table)
        try:
            written = self.con.execute(
                "INSERT INTO quarantine BY NAME SELECT * FROM quarantine_arrow "
                "ON CONFLICT DO NOTHING"
            ).fetchone()[0]  # type: ignore[index]
        finally:
            self.con.unregister("quarantine_arrow")
        return int(written)

    # -- SOQL records and partner logs --------------------------------------------------------

    def load_records(self, records: list[StagedRecord], *, origin: str) -> BatchResult:
        result = BatchResult(rows_read=len(records))
        if not records:
            return result
        result.rows_quarantined += self.quarantine(origin, origin, cap_records(records, Problem))
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
            f"""CREATE OR REPLACE TEMP VIEW rec_batch_v AS
            SELECT *, _first AND NOT EXISTS (
                SELECT 1 FROM raw_records r WHERE r.org_id = b.org_id
                  AND r.source_id = b._source_id AND r.record_id = b._record_key
                  AND {_stored_span(con, records)}
            ) AS _fresh FROM rec_batch b"""
        )
        try:
            with self._transaction():
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
                           {timestamp_literal(self.now)}
                    FROM rec_batch_v WHERE _fresh"""
                ).fetchone()[0]  # type: ignore[index]
                if any(r.source_id == users.SOURCE_ID for r in records):
                    users.remember_user_rows(con, self.run_id, timestamp_literal(self.now))
        finally:
            con.execute("DROP VIEW IF EXISTS rec_batch_v")
            con.execute("DROP TABLE IF EXISTS rec_batch")
        return result

    # -- transactions ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all (a crash rolls it back)."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")


def _records_table(records: list[StagedRecord], origin: str) -> pa.Table:
    meta: dict[str, tuple[pa.DataType, list[Any]]] = {
        "org_id": (pa.string(), [r.org_id for r in records]),
        "_source_id": (pa.string(), [r.source_id for r in records]),
        "_record_key": (pa.string(), [r.record_id for r in records]),
        "_payload": (pa.string(), [_payload_text(r.payload) for r in records]),
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
            if kind == pa.string():
                values = [_scrubbed(value) for value in values]
        columns[name] = pa.array(values, type=kind)
    return pa.table(columns)


def _stored_span(con: duckdb.DuckDBPyConnection, records: list[StagedRecord]) -> str:
    """A filter every stored copy of a batch's records passes, as constants, so the dedupe
    reads the batch's hours of raw_records (DuckDB skips row groups outside them), not the
    whole store: when every record's key fixes its time (`key_fixes_time`)."""
    if not all(record.key_fixes_time for record in records):
        return "true"
    low, high = con.execute("SELECT min(occurred_at), max(occurred_at) FROM rec_batch").fetchone()  # type: ignore[misc]
    if low is None:
        return "true"
    return f"r.occurred_at BETWEEN {timestamp_literal(low)} AND {timestamp_literal(high)}"


def _payload_text(payload: dict[str, Any]) -> str:
    """The payload as stored. Normalizers redact already; this is the last door before the
    table, for any record a source builds itself. Redacting the tree judges each name and
    value once per batch (values repeat: app names, login types), where a test of the whole
    JSON text ran the slow secret-shape search on every record whose field names mention a
    token (`token_fp`, `LoginSubType: OAuth Refresh Token`) and then redacted it anyway."""
    return json.dumps(redact(payload), default=str)


def _scrubbed(value: Any) -> Any:
    return scrub_text(value) if isinstance(value, str) else value
