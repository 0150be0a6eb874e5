"""Stage 3 of tokensentry: everything a person touches (web app, command line, email).

`queries` holds the SQL every surface shares; `cli` is the composition root and may import
`ingest` and `detect`.

Every process that imports this package drains the dashboard's queued triage (decisions made
while the pipeline held the store, dashboard/web/writes.py) whenever it opens the store for
writing: the pipeline commands included, at start and at end.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingest import db as _db


def _drain_queued_triage(con: duckdb.DuckDBPyConnection, db_path: Path) -> None:
    if not db_path.with_name(db_path.name + ".pending-triage.jsonl").exists():
        return  # the usual case: no need to import the web layer
    from dashboard.web.writes import drain

    drain(con, db_path)


_db.on_write_open(_drain_queued_triage)
