"""What the nightly digest reports: the alert states not yet mailed (with the incident each
belongs to, computed by detect), and the pipeline's health.

The digest remembers what it mailed in `digests` / `digest_items` (one row per alert and
severity), so "new since the last digest" is a set difference, not a clock comparison: an alert
detected late, or one whose severity rose, is still picked up by the next digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from .incidents import STATUS_SQL
from .people import user_join

SEVERITIES = ("critical", "high", "medium", "low", "info")
STALE_AFTER = timedelta(hours=26)  # one nightly run missed, plus slack for a slow night
# Unit outcomes the health section calls failures (ingest's own vocabulary, see ingestion.py);
# `partial` (data incomplete, e.g. a missing permission) is reported apart from them.
FAILED_STATUSES = ("failed", "limit_exceeded", "skipped", "interrupted")
FETCHED_STATUSES = ("ok", "partial")  # a fetch that moved the cursor
# Triage states still waiting for an analyst; a resolved or false-positive alert is not news.
OPEN_STATUSES = ("new", "acknowledged")
# Untriaged alerts this severe are mailed once even when older than the window: nothing open
# at medium or above goes unmailed (e.g. the first digest after a backfill or the demo).
BACKLOG_SEVERITIES = ("critical", "high", "medium")


@dataclass(frozen=True)
class DigestBaseline:
    """Where the digest started tracking the store: its first attempt's window and time."""

    covers_since: datetime
    started_at: datetime


def baseline(con: duckdb.DuckDBPyConnection) -> DigestBaseline | None:
    row = con.execute("SELECT min(covers_since), min(created_at) FROM digests").fetchone()
    if row is None or row[0] is None:
        return None
    return DigestBaseline(covers_since=row[0], started_at=row[1])


def last_sent_at(con: duckdb.DuckDBPyConnection) -> datetime | None:
    row = con.execute("SELECT max(sent_at) FROM digests WHERE status = 'sent'").fetchone()
    return row[0] if row else None


def newest_event_at(con: duckdb.DuckDBPyConnection) -> datetime | None:
    row = con.execute("SELECT max(occurred_at) FROM events").fetchone()
    return row[0] if row else None


DIGEST_ALERTS_SQL = f"""
WITH s AS ({STATUS_SQL.format(where="")})
SELECT a.alert_id, a.detector_id AS detector, a.severity, a.org_id, a.app_name AS app,
       a.user_id, a.ips, a.first_seen_at AS first_seen, a.last_seen_at AS last_seen,
       a.event_count, a.summary, coalesce(t.status, 'new') AS status,
       coalesce(m.incident_id, a.alert_id) AS incident_id,
       i.severity AS incident_severity, i.summary AS incident_summary,
       i.org_id AS incident_org_id, i.app_name AS incident_app,
       coalesce(i.alert_count, 1) AS incident_alert_count,
       coalesce(s.reopened, false) AS incident_reopened,
       NOT (a.last_seen_at >= ? OR a.created_at >= ?) AS carried_over, ud.username
FROM alerts a
{user_join("a")}
LEFT JOIN triage t USING (alert_id)
LEFT JOIN incident_alerts m USING (alert_id)
LEFT JOIN incidents i ON i.incident_id = m.incident_id
LEFT JOIN s ON s.incident_id = m.incident_id
CROSS JOIN LATERAL (SELECT EXISTS (
        SELECT 1 FROM digest_items di JOIN digests d USING (attempt_id)
        WHERE d.status = 'sent' AND di.alert_id = a.alert_id AND di.severity = a.severity
    ) AS done) mailed
WHERE list_contains(?, coalesce(t.status, 'new'))
  AND (((a.last_seen_at >= ? OR a.created_at >= ?) AND (? OR NOT mailed.done))
       OR (coalesce(t.status, 'new') = 'new' AND list_contains(?, a.severity)
           AND a.superseded_at IS NULL AND NOT mailed.done))
ORDER BY list_position(?, a.severity), a.org_id NULLS LAST, a.app_name NULLS LAST,
         a.first_seen_at, a.alert_id
"""


def digest_alerts(
    con: duckdb.DuckDBPyConnection,
    *,
    seen_since: datetime,
    detected_since: datetime,
    include_sent: bool = False,
) -> list[dict[str, Any]]:
    """Open alerts last seen since `seen_since` (event time) or detected since
    `detected_since` (wall clock), minus the alert states a sent digest already covered
    (unless `include_sent`, for --resend); and, whatever their age, the untriaged alerts at
    medium or above no sent digest carried (`carried_over`: outside the window). Most severe
    first, then by org and app. Plain records, not a DataFrame: a digest holds dozens of
    rows, and None must stay None."""
    cursor = con.execute(
        DIGEST_ALERTS_SQL,
        [seen_since, detected_since, list(OPEN_STATUSES), seen_since, detected_since,
         include_sent, list(BACKLOG_SEVERITIES), list(SEVERITIES)],
    )  # fmt: skip
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def failed_units(
    con: duckdb.DuckDBPyConnection, since: datetime, statuses: tuple[str, ...] = FAILED_STATUSES
) -> pd.DataFrame:
    """Units whose latest run since `since` ended in one of `statuses` (a unit that failed,
    then recovered, is healthy): stage, unit, org, status and error."""
    return con.execute(
        """SELECT stage, unit_id, org_id, status, error, started_at FROM runs_now
           WHERE started_at >= ? AND stage <> 'digest'
           QUALIFY row_number() OVER (PARTITION BY stage, unit_id ORDER BY started_at DESC) = 1
             AND list_contains(?, status)
           ORDER BY stage, unit_id""",
        [since, list(statuses)],
    ).df()


def unavailable_units(con: duckdb.DuckDBPyConnection, since: datetime) -> pd.DataFrame:
    """Org × source units whose latest run since `since` found the source not available
    (licence, permission): the org cannot feed the detectors that need it."""
    return con.execute(
        """SELECT stage, unit_id, org_id, status, error, started_at FROM runs_now
           WHERE started_at >= ?
           QUALIFY row_number() OVER (PARTITION BY stage, unit_id ORDER BY started_at DESC) = 1
             AND status = 'not_available'
           ORDER BY unit_id""",
        [since],
    ).df()


def stale_sources(
    con: duckdb.DuckDBPyConnection, now: datetime, aliases: list[str] | None = None
) -> pd.DataFrame:
    """Org × source ingest units whose last successful fetch is older than 26 h (or that never
    succeeded). `aliases` limits them to the orgs still configured."""
    return con.execute(
        """SELECT unit_id, any_value(org_id) AS org_id,
                  max(started_at) FILTER (WHERE list_contains(?, status)) AS last_success
           FROM runs_now
           WHERE stage = 'ingest'
             AND (? IS NULL OR list_contains(?, split_part(unit_id, '/', 1)))
           GROUP BY unit_id
           HAVING arg_max(status, started_at) <> 'not_available'
              AND coalesce(max(started_at) FILTER (WHERE list_contains(?, status)), '-infinity')
                  < ?
           ORDER BY unit_id""",
        [
            list(FETCHED_STATUSES),
            aliases,
            aliases,
            list(FETCHED_STATUSES),
            now - STALE_AFTER,
        ],
    ).df()


def quarantined_since(con: duckdb.DuckDBPyConnection, since: datetime) -> int:
    row = con.execute(
        "SELECT count(*) FROM quarantine WHERE quarantined_at >= ?", [since]
    ).fetchone()
    return int(row[0]) if row else 0


def failed_digests(con: duckdb.DuckDBPyConnection, since: datetime) -> pd.DataFrame:
    """Digest attempts the server refused since `since`: the readers should know a mail is
    missing, and the alerts it held are in this one."""
    return con.execute(
        """SELECT created_at, error FROM digests
           WHERE status = 'failed' AND created_at >= ? ORDER BY created_at""",
        [since],
    ).df()
