"""The DuckDB store: the only place that calls `duckdb.connect`.

DuckDB lets one process write or many read a file, never both, so callers open late and close
early: `connect()` is a context manager, and the dashboard opens short read-only connections.
Numbered SQL files in `schema/` are applied in order on every read-write open; each runs in a
transaction together with its row in `_schema_migrations`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import duckdb

from . import private_files
from .errors import TokensentryError
from .formats.redact_sql import register_sql as register_scrub_sql
from .sfid import SQL_MACROS
from .vocab import register_vocabulary

MEMORY = ":memory:"


def _migrations() -> list[tuple[str, str]]:
    folder = resources.files("ingest") / "schema"
    files = sorted(
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    )
    return files


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply every schema file not yet applied; return the names applied now."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS _schema_migrations "
        "(name VARCHAR PRIMARY KEY, applied_at TIMESTAMP NOT NULL DEFAULT now())"
    )
    done = {row[0] for row in con.execute("SELECT name FROM _schema_migrations").fetchall()}
    applied = []
    for name, sql in _migrations():
        if name in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO _schema_migrations (name) VALUES (?)", [name])
            con.execute("COMMIT")
        except duckdb.Error:
            con.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied


def prepare(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Per-connection helpers: id macros and the Salesforce vocabulary tables (all TEMP)."""
    con.execute(SQL_MACROS)
    register_scrub_sql(con)
    register_vocabulary(con)
    return con


def open_store(path: Path | str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    target = str(path)
    if target != MEMORY:
        db_path = Path(target)
        if read_only and not db_path.exists():
            raise TokensentryError(
                f"{db_path}: no database yet; run `tokensentry import` or `tokensentry demo` first"
            )
        db_path.parent.mkdir(parents=True, exist_ok=True)
        private_files.restrict_umask()  # the file, its WAL and spill files: owner-only
    try:
        con = duckdb.connect(target, read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise TokensentryError(
                f"{target}: the database is in use by another tokensentry process "
                "(DuckDB allows one writer); retry when it has finished"
            ) from None
        raise TokensentryError(f"{target}: cannot open database: {exc}") from None
    limit = os.environ.get("TOKENSENTRY_DUCKDB_MEMORY")
    if limit:  # e.g. "3GB": DuckDB otherwise takes up to 80 % of the machine's memory
        con.execute("SET memory_limit = ?", [limit])
    if target != MEMORY:
        _keep_private(con, Path(target))
    if not read_only:
        migrate(con)
    return prepare(con)


@contextlib.contextmanager
def connect(path: Path | str, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    con = open_store(path, read_only=read_only)
    try:
        yield con
    finally:
        con.close()
        if str(path) != MEMORY:
            with contextlib.suppress(OSError):  # not empty, or another process is spilling
                spill_dir(Path(path)).rmdir()


def spill_dir(db_path: Path) -> Path:
    """Where DuckDB spills what does not fit in memory (raw rows included): owner-only."""
    return db_path.with_name(db_path.name + ".tmp")


def _keep_private(con: duckdb.DuckDBPyConnection, db_path: Path) -> None:
    """Tighten files an older version (or another umask) created, and spill to a 0700 folder.

    A read-only open of someone else's file cannot chmod it; that is theirs to fix, so it is
    not an error here.
    """
    with contextlib.suppress(PermissionError):
        for path in (db_path, db_path.with_name(db_path.name + ".wal")):
            private_files.make_private(path)
    try:
        temp = private_files.private_dir(spill_dir(db_path))
    except OSError:
        return  # a read-only folder: DuckDB then spills nowhere rather than somewhere open
    con.execute("SET temp_directory = ?", [str(temp)])


def memory() -> duckdb.DuckDBPyConnection:
    """A fresh in-memory store with the schema applied (tests, examples, notebooks)."""
    return open_store(MEMORY)
