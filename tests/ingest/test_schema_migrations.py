"""Schema migrations: every pending file applied in one transaction, each one recorded."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ingest import db


def tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def recorded(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("SELECT name FROM _schema_migrations ORDER BY 1").fetchall()]


def test_an_older_store_takes_every_missing_file_once_and_keeps_its_rows(tmp_path, monkeypatch):
    every = db._migrations()
    older = every[:3]  # a store made by an early release
    monkeypatch.setattr(db, "_migrations", lambda: older)
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:
        assert db.migrate(con) == [name for name, _ in older]
        con.execute(
            "INSERT INTO quarantine (quarantine_id, run_id, origin, line, reason, quarantined_at)"
            " VALUES ('q1', 'r', 'elf', 1, 'kept', now())"
        )
    monkeypatch.setattr(db, "_migrations", lambda: every)
    with duckdb.connect(str(path)) as con:
        assert db.migrate(con) == [name for name, _ in every[3:]]
        assert recorded(con) == [name for name, _ in every]
        assert db.migrate(con) == []
        assert con.execute("SELECT reason FROM quarantine").fetchall() == [("kept",)]


def test_a_failing_file_leaves_the_store_at_its_previous_version(tmp_path, monkeypatch):
    every = db._migrations()
    path: Path = tmp_path / "store.duckdb"
    with duckdb.connect(str(path)) as con:
        db.migrate(con)
        before = tables(con)
    pending = [
        ("900_new_table.sql", "CREATE TABLE added_by_900 (x INTEGER);"),
        ("901_broken.sql", "ALTER TABLE no_such_table ADD COLUMN y INTEGER;"),
    ]
    monkeypatch.setattr(db, "_migrations", lambda: [*every, *pending])
    with duckdb.connect(str(path)) as con:
        with pytest.raises(duckdb.CatalogException, match="no_such_table"):
            db.migrate(con)
        assert tables(con) == before  # 900 rolled back with 901: not half a release
        assert recorded(con) == [name for name, _ in every]
