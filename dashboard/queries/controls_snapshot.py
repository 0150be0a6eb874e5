"""The controls readiness of the default window, kept in the store after detect.

Scanning 30 days of a 10-million-event store takes seconds; the controls page must answer in
well under one. `refresh_controls_snapshot` (called after `tokensentry detect`) stores the
per-org verdicts of the default window; `read_snapshot` returns them only for that exact
window and the same apps and allowlists, so a snapshot can be missing or stale but never
wrong: then the page computes live. Monitoring is always judged at read time.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

import duckdb

from ingest.config import Config

from .controls_judge import CONTROLS, judge_orgs
from .filters import day_window, default_window

TIMESTAMP_KEYS = ("occurred_at", "at")
# Bumped when the verdicts' rules change, so a snapshot judged by older rules is not read back
# (2: inferred apps count, as the detectors count them).
SNAPSHOT_VERSION = 2
COLUMNS = (
    "app", "org_id", "control", "verdict", "reason", "counter_examples", "positive_evidence",
    "evidence",
)  # fmt: skip


def config_key(config: Config) -> str:
    """What the verdicts depend on in the configuration: the apps and their allowlists."""
    described = sorted(
        (name.lower(), list(app.allowlist.entries) if app.allowlist else None)
        for name, app in config.apps.items()
    )
    return hashlib.md5(json.dumps([SNAPSHOT_VERSION, described]).encode()).hexdigest()


def _has_table(con: duckdb.DuckDBPyConnection) -> bool:
    # A store migrated before the snapshot table existed works without it (computed live).
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'controls_snapshot'"
        ).fetchone()[0]  # type: ignore[index]
    )


def refresh_controls_snapshot(
    con: duckdb.DuckDBPyConnection, config: Config, *, now: datetime
) -> int:
    """Recompute the default window's per-org verdicts and replace the snapshot; rows kept."""
    if not _has_table(con) or not config.apps:
        return 0
    start, end = day_window(default_window(con))
    rows = judge_orgs(con, config, start, end)
    key = config_key(config)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM controls_snapshot")
        if rows:
            con.executemany(
                "INSERT INTO controls_snapshot VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    [start, end, key, now]
                    + [row[c] for c in COLUMNS[:-1]]
                    + [json.dumps(row["evidence"], default=_iso)]
                    for row in rows
                ],
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(rows)


def read_snapshot(
    con: duckdb.DuckDBPyConnection, config: Config, start: datetime, end: datetime
) -> list[dict[str, Any]] | None:
    """The stored per-org rows for exactly this window and configuration, or None."""
    if not _has_table(con):
        return None
    found = con.execute(
        f"SELECT {', '.join(COLUMNS)} FROM controls_snapshot "
        "WHERE window_start = ? AND window_end = ? AND config_key = ? ORDER BY app, org_id",
        [start, end, config_key(config)],
    ).fetchall()
    if not found:
        return None
    order = {control: index for index, control in enumerate(CONTROLS)}
    rows = []
    for values in sorted(found, key=lambda v: (v[0], v[1], order.get(v[2], 99))):
        row = dict(zip(COLUMNS, values, strict=True))
        row["evidence"] = [_restore(item) for item in json.loads(row["evidence"])]
        row.update(
            scope="org",
            control_name=CONTROLS[row["control"]],
            window_start=start,
            window_end=end,
        )
        rows.append(row)
    return rows


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _restore(item: dict[str, Any]) -> dict[str, Any]:
    for key in TIMESTAMP_KEYS:
        if isinstance(item.get(key), str):
            item[key] = datetime.fromisoformat(item[key])
    return item
