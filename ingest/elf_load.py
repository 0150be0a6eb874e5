"""The EventLogFile half of `load.Loader`: staged VARCHAR rows → quarantine, raw_elf, events.

Everything is set-based SQL over one staged batch (`elf_batch`); Python sees only the rows that
are quarantined and the few distinct source IPs that are not dotted quads. Secrets: see
`elf_columns` for which values are scanned and which are checked as their type instead.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
from datetime import datetime

import duckdb
import pyarrow as pa

from .batch import SALESFORCE_IP_MARKER, BatchResult, Problem
from .elf_columns import secret_scan_sql
from .field_limits import cap_elf_batch
from .formats.redact import is_secret_name, redact
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
)
from .sqltext import quote_ident, quote_literal, timestamp_literal


def redacted_column_sql(name: str, *, any_maybe_secret: bool = True) -> str:
    """A stored ELF column: secret-named columns keep a fingerprint, the rest are scrubbed
    (in rows whose `_maybe_secret` test passed). Without such a row in the batch the scrub is
    left out of the statement: its macro expands into a regex chain per column, and DuckDB
    takes longer to plan that than to load a small file."""
    column = quote_ident(name)
    if is_secret_name(name):
        return f"fingerprint_secret({column})"
    if not any_maybe_secret:
        return column
    return f"CASE WHEN _maybe_secret THEN scrub_secrets({column}) ELSE {column} END"


class ElfLoading:
    """Needs the loader's connection, run id, clock, transactions, quarantine and merger."""

    con: duckdb.DuckDBPyConnection
    run_id: str
    now: datetime
    _transaction: Callable[[], contextlib.AbstractContextManager[None]]
    quarantine: Callable[[str, str, Iterable[Problem]], int]
    _stage_candidates: Callable[[str], None]
    merge_events: Callable[[], tuple[int, int]]

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
        absent = [name for name in ELF_COLUMNS_READ if name not in present]
        missing = ", ".join(f"CAST(NULL AS VARCHAR) AS {quote_ident(name)}" for name in absent)
        # Columns the file lacks are NULL for the SQL below, but not stored in the batch (a
        # Login ELF lacks half of them); the IP columns stay for the address check.
        unstored = [name for name in absent if name not in ("EVENT_TYPE", "SOURCE_IP", "CLIENT_IP")]
        restore = ", ".join(f"CAST(NULL AS VARCHAR) AS {quote_ident(name)}" for name in unstored)
        # md5 of every value in column-name order: stable across DuckDB releases and across
        # files that order Salesforce's columns differently.
        record_hash = "md5_number(concat_ws(chr(31), {}))".format(
            ", ".join(f"coalesce({quote_ident(c)}, '')" for c in sorted(columns))
        )
        org_literal = quote_literal(default_org) if default_org else "NULL"
        types = ", ".join(quote_literal(t) for t in ELF_EVENT_TYPES)
        line_expr = "_line" if has_line else "CAST(NULL AS BIGINT)"
        # One secret test per row over its free text (see elf_columns); only rows that pass it
        # have their values scrubbed one by one on the way into raw_elf and events.
        con.execute("DROP TABLE IF EXISTS elf_batch")
        exclude = f" EXCLUDE ({', '.join(['_secret_scan', *map(quote_ident, unstored)])})"
        con.execute(
            f"""CREATE TEMP TABLE elf_batch AS
            SELECT *{exclude}, {ELF_PROBLEM_SQL.format(types=types)} AS _problem, true AS _first,
                   true AS _fresh,
                   coalesce(may_hold_secret(_secret_scan), false) AS _maybe_secret
            FROM (SELECT *, {missing + "," if missing else ""} {line_expr} AS _line_no,
                         sf_id18(coalesce(ORGANIZATION_ID, {org_literal})) AS _org_id,
                         {record_hash} AS _record_id, {ELF_TIME_SQL} AS _occurred_at,
                         coalesce(sf_id18(USER_ID_DERIVED), sf_id18(USER_ID)) AS _user_id,
                         lower(trim(coalesce(nullif(SOURCE_IP, ''), nullif(CLIENT_IP, ''))))
                             AS _ip,
                         {secret_scan_sql(columns)} AS _secret_scan
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
        # A stored copy of a row has the row's time (the hash covers TIMESTAMP): bounded by the
        # batch's span, the join reads the batch's hours of raw_elf, not the whole store.
        span = con.execute("SELECT min(_occurred_at), max(_occurred_at) FROM elf_batch").fetchone()
        con.execute(
            """UPDATE elf_batch b SET _fresh = false FROM raw_elf r
            WHERE r._org_id = b._org_id AND r._record_id = b._record_id
              AND r._occurred_at BETWEEN ? AND ?""",
            list(span or (None, None)),
        )
        con.execute("UPDATE elf_batch SET _fresh = false WHERE NOT _first OR _problem IS NOT NULL")
        result.rows_quarantined = self._quarantine_elf(columns, origin, input_key, locate_lines)
        cuts = cap_elf_batch(con, columns, quote_ident, Problem, locate_lines)  # needs raw values
        result.rows_quarantined += self.quarantine(origin, input_key, cuts)
        self._add_raw_elf_columns(columns)
        # Repeated rows are dropped before ordinals are taken, so a file with a repeated line
        # fingerprints its logins exactly like a file without it.
        any_maybe_secret = bool(
            con.execute("SELECT 1 FROM elf_batch WHERE _maybe_secret LIMIT 1").fetchall()
        )
        scrubbed = ", ".join(
            f"CASE WHEN _maybe_secret THEN scrub_secrets({c}) ELSE {c} END AS {c}"
            if any_maybe_secret
            else f"{c} AS {c}"
            for c in ELF_TEXT_COLUMNS
        )
        batch = f"(SELECT *, {restore} FROM elf_batch)" if restore else "elf_batch"
        events_sql = ELF_EVENTS_SQL.format(batch=batch, types=types, scrubbed=scrubbed)
        with self._transaction():
            self._stage_candidates(events_sql)
            new, enriched = self.merge_events()
            original = ", ".join(
                f"{redacted_column_sql(c, any_maybe_secret=any_maybe_secret)} AS {quote_ident(c)}"
                for c in columns
            )
            inserted = con.execute(
                f"""INSERT INTO raw_elf BY NAME
                SELECT {original}, _org_id, _record_id, _occurred_at,
                       {quote_literal(origin)} AS _origin, _line_no AS _line,
                       {quote_literal(self.run_id)} AS _run_id,
                       {timestamp_literal(self.now)} AS _fetched_at
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
