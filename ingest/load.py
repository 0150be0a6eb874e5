"""Write a batch of vendor rows into the store: quarantine → raw → normalized events.

Shared by `tokensentry import` (files) and `tokensentry ingest` (Salesforce APIs), so both
paths dedupe, quarantine and normalize identically. Each batch is one transaction: raw rows,
events and quarantine rows commit together or not at all, so a crash never leaves half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from .field_limits import cap_elf_batch, cap_reason, cap_records
from .formats.redact import (
    has_secret_name,
    is_secret_name,
    may_hold_secret,
    redact,
    scrub_optional,
    scrub_text,
)
from .merge import EventMerger
from .netlist import parse_ip
from .normalize import (
    ELF_BAD_IP_SQL,
    ELF_COLUMNS_READ,
    ELF_EVENT_TYPES,
    ELF_EVENTS_SQL,
    ELF_PROBLEM_SQL,
    ELF_TEXT_COLUMNS,
    ELF_TIME_SQL,
    ELF_VALID_IPV4,
    EVENT_COLUMN_TYPES,
    EVENT_COLUMNS,
)
from .sqltext import quote_ident, quote_literal

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
    record_index: int | None = None  # position in an API page, where there is no line


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


SALESFORCE_IP_MARKER = "salesforce.com ip"
"""Lower-cased: what Salesforce documents in place of an IP for its own internal requests."""


def redacted_column_sql(name: str) -> str:
    """A stored ELF column: secret-named columns keep a fingerprint, the rest are scrubbed
    (in rows whose `_maybe_secret` test passed)."""
    column = quote_ident(name)
    if is_secret_name(name):
        return f"fingerprint_secret({column})"
    return f"CASE WHEN _maybe_secret THEN scrub_secrets({column}) ELSE {column} END"


class Loader(EventMerger):
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

    # -- EventLogFile rows --------------------------------------------------------------------

    def load_elf(
        self,
        source: str,
        columns: list[str],
        *,
        origin: str,
        input_key: str,
        default_org: str | None,
        has_line: bool = False,
        locate_lines: Callable[[list[tuple[str, ...]]], list[int | None]] | None = None,
    ) -> BatchResult:
        """Load ELF rows from `source`, a SQL relation (a `read_csv(...)` call or a registered
        table) whose VARCHAR columns are named as in the file.

        With `has_line` the relation carries a `_line` column; otherwise `locate_lines(rows)`
        finds the file lines of the quarantined rows' values (only called for them), so the
        batch never has to keep the file's order.
        """
        # Nothing here depends on row order (repeats are identical, lines are found by value),
        # so DuckDB may read and write in parallel.
        self.con.execute("SET preserve_insertion_order = false")
        try:
            return self._load_elf(
                source, columns, origin=origin, input_key=input_key, default_org=default_org,
                has_line=has_line, locate_lines=locate_lines,
            )  # fmt: skip
        finally:
            self.con.execute("RESET preserve_insertion_order")
            self.con.execute("DROP TABLE IF EXISTS elf_batch")

    def _load_elf(
        self,
        source: str,
        columns: list[str],
        *,
        origin: str,
        input_key: str,
        default_org: str | None,
        has_line: bool,
        locate_lines: Callable[[list[tuple[str, ...]]], list[int | None]] | None,
    ) -> BatchResult:
        con = self.con
        present = {c.upper() for c in columns}
        missing = ", ".join(
            f"CAST(NULL AS VARCHAR) AS {quote_ident(name)}"
            for name in ELF_COLUMNS_READ
            if name not in present
        )
        # md5 of every value in column-name order: stable across DuckDB releases and across
        # files that order Salesforce's columns differently.
        record_hash = "md5_number(concat_ws(chr(31), {}))".format(
            ", ".join(f"coalesce({quote_ident(c)}, '')" for c in sorted(columns))
        )
        org_literal = quote_literal(default_org) if default_org else "NULL"
        types = ", ".join(quote_literal(t) for t in ELF_EVENT_TYPES)
        line_expr = "_line" if has_line else "CAST(NULL AS BIGINT)"
        # One test per row over all its values (cheaper than one per value); only rows that
        # pass it have their values scrubbed one by one on the way into raw_elf and events.
        row_text = "concat_ws(chr(31), {})".format(", ".join(quote_ident(c) for c in columns))
        con.execute("DROP TABLE IF EXISTS elf_batch")
        con.execute(
            f"""CREATE TEMP TABLE elf_batch AS
            SELECT *, {ELF_PROBLEM_SQL.format(types=types)} AS _problem, true AS _first,
                   true AS _fresh
            FROM (SELECT *, {missing + "," if missing else ""} {line_expr} AS _line_no,
                         sf_id18(coalesce(ORGANIZATION_ID, {org_literal})) AS _org_id,
                         {record_hash} AS _record_id, {ELF_TIME_SQL} AS _occurred_at,
                         coalesce(sf_id18(USER_ID_DERIVED), sf_id18(USER_ID)) AS _user_id,
                         lower(trim(coalesce(nullif(SOURCE_IP, ''), nullif(CLIENT_IP, ''))))
                             AS _ip,
                         may_hold_secret({row_text}) AS _maybe_secret
                  FROM {source})"""
        )
        result = BatchResult(
            rows_read=con.execute("SELECT count(*) FROM elf_batch").fetchone()[0]  # type: ignore[index]
        )
        self._check_elf_addresses(types)
        # A row repeated within the file loads once (copies are identical); a row already stored
        # is not fresh. Both are rare, so they are found by joins that touch only those rows.
        con.execute(
            """UPDATE elf_batch b SET _first = false FROM (
                SELECT _org_id, _record_id, min(rowid) AS keep FROM elf_batch
                GROUP BY ALL HAVING count(*) > 1) d
            WHERE b._org_id = d._org_id AND b._record_id = d._record_id AND b.rowid <> d.keep"""
        )
        con.execute(
            """UPDATE elf_batch b SET _fresh = false FROM raw_elf r
            WHERE r._org_id = b._org_id AND r._record_id = b._record_id"""
        )
        con.execute("UPDATE elf_batch SET _fresh = false WHERE NOT _first OR _problem IS NOT NULL")
        result.rows_quarantined = self._quarantine_elf(columns, origin, input_key, locate_lines)
        cuts = cap_elf_batch(con, columns, quote_ident, Problem, locate_lines)  # needs raw values
        result.rows_quarantined += self.quarantine(origin, input_key, cuts)
        self._add_raw_elf_columns(columns)
        # Repeated rows are dropped before ordinals are taken, so a file with a repeated line
        # fingerprints its logins exactly like a file without it.
        scrubbed = ", ".join(
            f"CASE WHEN _maybe_secret THEN scrub_secrets({c}) ELSE {c} END AS {c}"
            for c in ELF_TEXT_COLUMNS
        )
        events_sql = ELF_EVENTS_SQL.format(batch="elf_batch", types=types, scrubbed=scrubbed)
        with self._transaction():
            self._stage_candidates(events_sql)
            new, enriched = self.merge_events()
            original = ", ".join(f"{redacted_column_sql(c)} AS {quote_ident(c)}" for c in columns)
            inserted = con.execute(
                f"""INSERT INTO raw_elf BY NAME
                SELECT {original}, _org_id, _record_id, _occurred_at,
                       {quote_literal(origin)} AS _origin, _line_no AS _line,
                       {quote_literal(self.run_id)} AS _run_id,
                       CAST({quote_literal(self.now.isoformat())} AS TIMESTAMP) AS _fetched_at
                FROM elf_batch WHERE _fresh"""
            ).fetchone()[0]  # type: ignore[index]
        result.rows_new = inserted
        result.events_new, result.events_enriched = new, enriched
        return result

    def _quarantine_elf(
        self,
        columns: list[str],
        origin: str,
        input_key: str,
        locate_lines: Callable[[list[tuple[str, ...]]], list[int | None]] | None,
    ) -> int:
        selected = ", ".join(quote_ident(c) for c in columns)
        # The values stay raw until here so their lines can be found in the file; the text
        # stored is redacted (secret-named columns by name, everything else by shape).
        bad = self.con.execute(
            f"SELECT _line_no, _problem, {selected} FROM elf_batch "
            "WHERE _problem IS NOT NULL ORDER BY _line_no"
        ).fetchall()
        if not bad:
            return 0
        lines: list[int | None] = [row[0] for row in bad]
        if locate_lines and any(line is None for line in lines):
            lines = locate_lines([tuple(v or "" for v in row[2:]) for row in bad])
        problems = sorted(
            (
                Problem(
                    line=line,
                    reason=row[1],
                    raw_text=json.dumps(redact(dict(zip(columns, row[2:], strict=True)))),
                )
                for line, row in zip(lines, bad, strict=True)
            ),
            key=lambda problem: problem.line or 0,
        )
        with self._transaction():
            return self.quarantine(origin, input_key, problems)

    def _check_elf_addresses(self, types: str) -> None:
        """Quarantine rows whose source IP is neither an address nor Salesforce's documented
        `Salesforce.com IP` marker, so it never becomes an event's IP; write IPv6 and
        IPv4-mapped addresses in the form the record normalizers use.

        Dotted quads are recognised in SQL; the few distinct other values go through
        `ipaddress`, which knows every IPv6 spelling.
        """
        con = self.con
        candidates = con.execute(
            f"""SELECT DISTINCT _ip FROM elf_batch
            WHERE _problem IS NULL AND EVENT_TYPE IN ({types}) AND _ip IS NOT NULL
              AND _ip <> {quote_literal(SALESFORCE_IP_MARKER)}
              AND NOT regexp_full_match(_ip, {quote_literal(ELF_VALID_IPV4)})"""
        ).fetchall()
        fixes: list[tuple[str, str | None]] = []
        for (text,) in candidates:
            address = parse_ip(text)
            if address is None or str(address) != text:
                fixes.append((text, None if address is None else str(address)))
        if not fixes:
            return
        table = pa.table(
            {
                "raw_ip": pa.array([raw for raw, _ in fixes], pa.string()),
                "address": pa.array([address for _, address in fixes], pa.string()),
            }
        )
        con.register("elf_ip_fixes", table)
        try:
            con.execute(ELF_BAD_IP_SQL)
        finally:
            con.unregister("elf_ip_fixes")

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
            """CREATE OR REPLACE TEMP VIEW rec_batch_v AS
            SELECT *, _first AND NOT EXISTS (
                SELECT 1 FROM raw_records r WHERE r.org_id = b.org_id
                  AND r.source_id = b._source_id AND r.record_id = b._record_key
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
                           CAST({quote_literal(self.now.isoformat())} AS TIMESTAMP)
                    FROM rec_batch_v WHERE _fresh"""
                ).fetchone()[0]  # type: ignore[index]
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


def _payload_text(payload: dict[str, Any]) -> str:
    """The payload as stored. Normalizers redact already; this is the last door before the
    table, for any record a source builds itself (one cheap test per record)."""
    text = json.dumps(payload, default=str)
    if may_hold_secret(text) or has_secret_name(payload):
        text = json.dumps(redact(payload), default=str)
    return text


def _scrubbed(value: Any) -> Any:
    return scrub_text(value) if isinstance(value, str) else value
