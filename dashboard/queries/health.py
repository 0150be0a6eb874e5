"""Pipeline health for the overview and pipeline pages: data freshness per org and source, runs
per unit, sources an org cannot give, the quarantine by reason, and recorded retention gaps.

Freshness is measured against the wall clock (it is about the pipeline, not the data): a source
whose last successful fetch is older than `stale_hours` is stale, because the nightly job missed
at least one night.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pandas as pd

STALE_HOURS = 26  # one nightly run plus two hours of slack
# A run that fetched nothing because the org does not offer the source (licence, permission)
# is recorded as skipped with the reason in `error`.
UNAVAILABLE_STATUS = "skipped"


def freshness(
    con: duckdb.DuckDBPyConnection, now: datetime, stale_hours: int = STALE_HOURS
) -> pd.DataFrame:
    """Per org and source (ingest) or file (import): the last successful fetch, hours since,
    whether it is stale, and the last run's status and error."""
    return con.execute(
        """SELECT coalesce(org_id, '') AS org_id, stage,
                  CASE WHEN stage = 'ingest' THEN split_part(unit_id, '/', -1)
                       ELSE unit_id END AS source,
                  max(finished_at) FILTER (WHERE status IN ('ok', 'partial')) AS last_success,
                  arg_max(status, started_at) AS last_status,
                  arg_max(error, started_at) AS last_error,
                  round(date_diff('minute',
                      max(finished_at) FILTER (WHERE status IN ('ok', 'partial')),
                      CAST(? AS TIMESTAMP)) / 60.0, 1) AS hours_since,
                  coalesce(max(finished_at) FILTER (WHERE status IN ('ok', 'partial'))
                           < CAST(? AS TIMESTAMP), true) AS stale
           FROM runs_now WHERE stage IN ('ingest', 'import')
           GROUP BY ALL
           HAVING bool_or(status <> ?)
           ORDER BY stale DESC, org_id, stage, source""",
        [now, now - timedelta(hours=stale_hours), UNAVAILABLE_STATUS],
    ).df()


def runs(
    con: duckdb.DuckDBPyConnection, stage: str | None = None, limit: int = 200
) -> pd.DataFrame:
    """The most recent runs (per stage when given): status, rows, quarantined, duration, error."""
    return con.execute(
        """SELECT started_at, stage, unit_id, org_id, status, rows_read, rows_new,
                  rows_quarantined,
                  round(date_diff('millisecond', started_at, finished_at) / 1000.0, 1)
                      AS seconds,
                  error, run_id
           FROM runs_now WHERE (CAST(? AS VARCHAR) IS NULL OR stage = ?)
           ORDER BY started_at DESC, stage, unit_id LIMIT ?""",
        [stage, stage, limit],
    ).df()


def detector_runs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per detector: its last run's status, findings, duration and error, and failures seen."""
    return con.execute(
        """SELECT unit_id AS detector, max(started_at) AS last_run,
                  arg_max(status, started_at) AS last_status,
                  arg_max(rows_new, started_at) AS last_findings,
                  arg_max(round(date_diff('millisecond', started_at, finished_at) / 1000.0, 2),
                          started_at) AS last_seconds,
                  arg_max(error, started_at) AS last_error,
                  count(*) FILTER (WHERE status IN ('failed', 'interrupted')) AS failed_runs,
                  count(*) AS runs
           FROM runs_now WHERE stage = 'detect' GROUP BY ALL ORDER BY detector"""
    ).df()


def unavailable_sources(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Sources an org does not offer (licence, permission), as the last ingest said."""
    return con.execute(
        """SELECT org_id, split_part(unit_id, '/', -1) AS source,
                  arg_max(error, started_at) AS reason, max(started_at) AS last_checked
           FROM runs_now WHERE stage = 'ingest'
           GROUP BY ALL HAVING arg_max(status, started_at) = ?
           ORDER BY org_id, source""",
        [UNAVAILABLE_STATUS],
    ).df()


def quarantine_reasons(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The quarantine grouped by reason and origin: how many rows, when last."""
    return con.execute(
        """SELECT reason, origin, count(*) AS rows, max(quarantined_at) AS last_quarantined
           FROM quarantine GROUP BY ALL ORDER BY rows DESC, reason, origin LIMIT 500"""
    ).df()


def retention_gaps(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Recorded stretches of history Salesforce no longer keeps and tokensentry never fetched.
    Empty when the store predates the retention-gap table."""
    present = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'retention_gaps'"
    ).fetchone()[0]  # type: ignore[index]
    if not present:
        return pd.DataFrame(
            columns=["org_id", "source", "gap_start", "gap_end", "retention_days", "verified"]
        )
    return con.execute(
        """SELECT org_id, source_id AS source, gap_start, gap_end, retention_days, verified
           FROM retention_gaps ORDER BY gap_end DESC, org_id, source LIMIT 500"""
    ).df()
