"""Pipeline health: runs per stage and unit, the quarantine, what the store holds."""

from __future__ import annotations

import duckdb
import pandas as pd


def recent_runs(con: duckdb.DuckDBPyConnection, limit: int = 50) -> pd.DataFrame:
    return con.execute(
        """SELECT run_id, stage, unit_id, org_id, started_at, finished_at, status, rows_read,
                  rows_new, rows_quarantined, error
           FROM runs_now ORDER BY started_at DESC, unit_id LIMIT ?""",
        [limit],
    ).df()


def quarantine(con: duckdb.DuckDBPyConnection, limit: int = 200) -> pd.DataFrame:
    return con.execute(
        "SELECT origin, line, reason, quarantined_at FROM quarantine "
        "ORDER BY quarantined_at DESC, origin, line LIMIT ?",
        [limit],
    ).df()


def store_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    tables = ("raw_records", "raw_elf", "events", "alerts", "quarantine")
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}  # type: ignore[index]
