"""The DuckDB store: the only place that calls `duckdb.connect`.

DuckDB lets one process write or many read a file, never both, so callers open late and close
early: `connect()` is a context manager, and the dashboard opens short read-only connections.
An open the store refuses is not an error at once: `connect` waits for it, bounded (see
`store_lock`: the writer gate, who holds the store, `TOKENSENTRY_STORE_WAIT`); the dashboard
passes `wait=0` and handles `StoreBusyError` itself.
Numbered SQL files in `schema/` are applied in order on every read-write open; each runs in a
transaction together with its row in `_schema_migrations`. Then the `on_write_open` hooks run
(the dashboard's queued triage lands there), and again just before a read-write connection
closes: whichever writer gets the store next drains what waited for it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

import duckdb

from . import private_files, runs, store_lock
from .errors import TokensentryError
from .formats.redact_sql import register_sql as register_scrub_sql
from .sfid import SQL_MACROS
from .store_lock import StoreBusyError as StoreBusyError  # for callers of db
from .vocab import register_vocabulary

MEMORY = ":memory:"

Hook = Callable[[duckdb.DuckDBPyConnection, Path], None]
_write_hooks: list[Hook] = []


def on_write_open(hook: Hook) -> None:
    """Run `hook(con, path)` after every read-write open of a store file (after migrations) and
    before it closes. A hook that fails is reported on stderr; it never fails the command."""
    if hook not in _write_hooks:
        _write_hooks.append(hook)


def _run_write_hooks(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    for hook in list(_write_hooks):
        try:
            hook(con, path)
        except Exception as exc:  # the command's own work matters more than a hook's
            print(f"tokensentry: {path}: {getattr(hook, '__name__', hook)}: {exc}", file=sys.stderr)


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
    pending = [(name, sql) for name, sql in _migrations() if name not in done]
    if not pending:
        return []
    # All pending files in one transaction: the store moves from one schema version to the
    # next or stays where it was, and a new store (every test's) costs a third of the time.
    con.execute("BEGIN TRANSACTION")
    try:
        for _, sql in pending:
            con.execute(sql)
        con.executemany(
            "INSERT INTO _schema_migrations (name) VALUES (?)", [[name] for name, _ in pending]
        )
        con.execute("COMMIT")
    except duckdb.Error:
        con.execute("ROLLBACK")
        raise
    return [name for name, _ in pending]


def prepare(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Per-connection helpers: id macros, the Salesforce vocabulary tables and the `runs_now`
    view (all TEMP)."""
    con.execute(SQL_MACROS)
    register_scrub_sql(con)
    register_vocabulary(con)
    runs.register_liveness(con)
    return con


def open_store(
    path: Path | str,
    *,
    read_only: bool = False,
    wait: float | None = None,
    say: store_lock.Say | None = None,
    waiter: store_lock.Waiter | None = None,
) -> duckdb.DuckDBPyConnection:
    """A connection to the store (read-write: migrated). `wait`: seconds to wait while another
    process holds the file (None: `TOKENSENTRY_STORE_WAIT`, default 10 minutes; 0: fail at
    once with StoreBusyError). A read-write connection made here holds no writer gate: use
    `connect`, which does."""
    target = str(path)
    if target != MEMORY:
        db_path = Path(target)
        if read_only and not db_path.exists():
            raise TokensentryError(
                f"{db_path}: no database yet; run `tokensentry import` or `tokensentry demo` first"
            )
        db_path.parent.mkdir(parents=True, exist_ok=True)
        private_files.restrict_umask()  # the file, its WAL and spill files: owner-only
    waiter = waiter or _waiter(target, wait, say)
    con = _connect_waiting(target, read_only, waiter)
    limit = os.environ.get("TOKENSENTRY_DUCKDB_MEMORY")
    if limit:  # e.g. "3GB": DuckDB otherwise takes up to 80 % of the machine's memory
        con.execute("SET memory_limit = ?", [limit])
    if target != MEMORY:
        _keep_private(con, Path(target))
    if not read_only:
        migrate(con)
    return prepare(con)


def _connect_waiting(
    target: str, read_only: bool, waiter: store_lock.Waiter
) -> duckdb.DuckDBPyConnection:
    while True:
        if read_only and target != MEMORY:
            holder = store_lock.writer_waiting(Path(target))
            if holder is not None:  # a writer has, or is about to take, the store: let it
                waiter.pause(holder)
                continue
        try:
            con = duckdb.connect(target, read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise TokensentryError(f"{target}: cannot open database: {exc}") from None
            waiter.pause(store_lock.duckdb_holder(str(exc)))
            continue
        except duckdb.ConnectionException as exc:
            if "different configuration" not in str(exc):
                raise TokensentryError(f"{target}: cannot open database: {exc}") from None
            # This process has it open the other way (the dashboard reads while it writes).
            waiter.pause("this process (open the other way: read-only vs read-write)")
            continue
        waiter.done()
        return con


@contextlib.contextmanager
def connect(
    path: Path | str,
    *,
    read_only: bool = False,
    wait: float | None = None,
    say: store_lock.Say | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """`open_store` as a context manager. Read-write: under the writer gate, with the
    `on_write_open` hooks run after opening and before closing."""
    target = str(path)
    gated = not read_only and target != MEMORY
    waiter = _waiter(target, wait, say)
    with store_lock.writer_gate(Path(target), waiter) if gated else contextlib.nullcontext():
        con = open_store(path, read_only=read_only, waiter=waiter)
        try:
            if gated:
                runs.mark_interrupted(con)
                _run_write_hooks(con, Path(target))
            yield con
            if gated:
                _run_write_hooks(con, Path(target))
        finally:
            con.close()
            if target != MEMORY:
                with contextlib.suppress(OSError):  # not empty, or another process is spilling
                    spill_dir(Path(path)).rmdir()


def _waiter(target: str, wait: float | None, say: store_lock.Say | None) -> store_lock.Waiter:
    return store_lock.Waiter(Path(target), store_lock.default_wait() if wait is None else wait, say)


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
