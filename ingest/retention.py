"""How long Salesforce keeps each source, and the gaps a late fetch leaves behind.

One table of documented retention per source, event type and licence. Figures Salesforce's own
pages did not confirm when this was written are `verified=False`, with where they come from.
When the time since a source's last successful fetch exceeds its retention, the stretch from
that fetch to the oldest moment still retrievable is lost for good: it is recorded in
`retention_gaps` for the dashboard and the digest, and reported, but it is not a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb


@dataclass(frozen=True)
class Retention:
    source_id: str  # the ingest source (`tokensentry ingest` unit)
    event_type: str | None  # EventLogFile event type; None: the whole source
    licence: str  # any | free | event_monitoring
    days: int
    verified: bool
    reference: str


TABLE: tuple[Retention, ...] = (
    Retention(
        "login_history", None, "any", 180, False,
        "Setup > Login History shows and downloads the past 6 months (SALESFORCE.md §1, [V3]); "
        "the LoginHistory object reference states no retention",
    ),
    Retention(
        "event_log_file", "Login", "free", 1, False,
        "commonly cited: 1 day for the free Login/Logout files (SALESFORCE.md §4, [U])",
    ),
    Retention(
        "event_log_file", "Logout", "free", 1, False,
        "commonly cited: 1 day for the free Login/Logout files (SALESFORCE.md §4, [U])",
    ),
    Retention(
        "event_log_file", None, "event_monitoring", 30, False,
        "commonly cited: 30 days with Event Monitoring (SALESFORCE.md §4, [U])",
    ),
    Retention(
        "login_event", None, "event_monitoring", 180, False,
        "Real-Time Event Monitoring storage events are commonly cited as kept 6 months; "
        "not found on a Salesforce page",
    ),
)  # fmt: skip
# A nightly cron drifts by minutes; a stretch shorter than this is not worth an alert.
SLACK = timedelta(hours=1)
# oauth_token (OauthToken, OAuth usage) is a snapshot of live tokens: nothing ages out.


def retention_for(source_id: str, licence: str) -> Retention | None:
    """The shortest retention that applies to this source under this licence."""
    rows = [r for r in TABLE if r.source_id == source_id and r.licence in ("any", licence)] or [
        r for r in TABLE if r.source_id == source_id
    ]
    return min(rows, key=lambda r: r.days) if rows else None


def licence_of(con: duckdb.DuckDBPyConnection, org_id: str) -> str:
    """`event_monitoring` once the org has delivered LoginEvent windows or hourly log files."""
    row = con.execute(
        """SELECT count(*) FROM raw_records
           WHERE org_id = ? AND (source_id = 'ingest_window:LoginEvent'
                 OR (source_id = 'soql:EventLogFile'
                     AND json_extract_string(payload, '$.Interval') = 'Hourly'))""",
        [org_id],
    ).fetchall()  # fetchall: this connection is the writer's, no result may stay open
    return "event_monitoring" if row and row[0][0] else "free"


@dataclass(frozen=True)
class Gap:
    org_id: str
    source_id: str
    gap_start: datetime
    gap_end: datetime
    retention: Retention

    def describe(self) -> str:
        certainty = "" if self.retention.verified else " (retention figure unverified)"
        return (
            f"retention gap: {self.gap_start:%Y-%m-%d %H:%M} to {self.gap_end:%Y-%m-%d %H:%M} UTC "
            f"is no longer kept by Salesforce ({self.retention.days} days{certainty}) and was "
            "never fetched"
        )


def check(
    con: duckdb.DuckDBPyConnection, *, org_id: str, source_id: str, now: datetime, run_id: str
) -> Gap | None:
    """Record and return the gap of this org × source, if its last success is too old."""
    last = con.execute(
        """SELECT max(started_at) FROM runs
           WHERE stage = 'ingest' AND org_id = ? AND ends_with(unit_id, '/' || ?)
             AND status IN ('ok', 'partial')""",
        [org_id, source_id],
    ).fetchall()[0]
    if last[0] is None:
        return None  # never fetched: the first run reaches back `lookback_days`
    retention = retention_for(source_id, licence_of(con, org_id))
    if retention is None:
        return None
    oldest_kept = now - timedelta(days=retention.days)
    if last[0] >= oldest_kept - SLACK:
        return None
    gap = Gap(org_id, source_id, last[0], oldest_kept, retention)
    con.execute(
        """INSERT INTO retention_gaps (org_id, source_id, gap_start, gap_end, retention_days,
                                       licence, verified, run_id, detected_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (org_id, source_id, gap_start) DO UPDATE SET
               gap_end = greatest(retention_gaps.gap_end, excluded.gap_end),
               run_id = excluded.run_id, detected_at = excluded.detected_at""",
        [
            org_id, source_id, gap.gap_start, gap.gap_end, retention.days, retention.licence,
            retention.verified, run_id, now,
        ],
    )  # fmt: skip
    return gap


def read_gaps(
    con: duckdb.DuckDBPyConnection, *, org_id: str | None = None, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Every recorded gap, newest first: for the dashboard's health view and the digest."""
    rows = con.execute(
        """SELECT org_id, source_id, gap_start, gap_end, retention_days, licence, verified,
                  run_id, detected_at
           FROM retention_gaps
           WHERE (? IS NULL OR org_id = ?) AND (? IS NULL OR detected_at >= ?)
           ORDER BY detected_at DESC, org_id, source_id""",
        [org_id, org_id, since, since],
    )
    names = [d[0] for d in rows.description]
    return [dict(zip(names, row, strict=True)) for row in rows.fetchall()]
