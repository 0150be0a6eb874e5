"""Pipeline health, one answer for every surface: the overview, `/pipeline`, the digest's
pipeline section, `tokensentry health` and the notebooks all read `pipeline_health`.

One row per org × source (login_history, login_event, oauth_token, event_log_file,
partner_token_log...), and one per configured webhook (org `webhook`, source its name: `failed`
while a post it was given is unacknowledged, `stale` when it has not run for its cadence). An
imported file is not a source of its own: it counts toward the org × source of the rows it
delivered (the partner's token log toward every org it names). Each source is judged against its
own cadence: `[ingest] cadence_hours` in the configuration when set, else the usual (median) gap
between its past deliveries, else one night. A source is `stale` when its last successful
delivery is older than that cadence plus slack (a twelfth of it, at least 2 h: a nightly source
is stale after 26 h, a weekly snapshot after 7 d 14 h), `failed` when its latest run failed (or
was interrupted), `not available` when the org does not offer it.

Age is measured against the wall clock (it is about the pipeline, not the data).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from ingest.config import Config
from ingest.sfid import to18

DEFAULT_CADENCE = timedelta(hours=24)  # one nightly run
MIN_SLACK = timedelta(hours=2)
MIN_CADENCE = timedelta(hours=1)  # deliveries closer than this are one delivery, not a cadence
STALE_HOURS = 26  # a nightly source: its cadence plus the slack
# Run outcomes: what moved the cursor, what failed (ingest's vocabulary, see ingest/ingestion.py,
# plus `interrupted`: a run whose process died), what the org does not offer.
SUCCEEDED = ("ok", "partial")
FAILED = ("failed", "limit_exceeded", "skipped", "interrupted")
UNAVAILABLE_STATUS = "not_available"
STATES = ("failed", "stale", "not available", "ok")  # worst first
PROBLEM_STATES = ("failed", "stale")  # what `tokensentry health` exits 1 on

# The name of the source a stored row came from, as ingest names its units.
SOURCE_OF = """CASE
    WHEN {s} IN ('soql:OauthToken', 'rest:OAuthUsageToken') THEN 'oauth_token'
    WHEN {s} = 'soql:LoginHistory' THEN 'login_history'
    WHEN {s} = 'soql:LoginEvent' THEN 'login_event'
    WHEN {s} IN ('soql:SessionHijackingEventStore', 'soql:CredentialStuffingEventStore',
                 'soql:ApiAnomalyEventStore', 'soql:ReportAnomalyEventStore')
        THEN 'threat_detection'
    WHEN {s} = 'soql:EventLogFile' OR starts_with({s}, 'elf:') THEN 'event_log_file'
    ELSE lower(split_part({s}, ':', -1))
END"""

# Every run of a source: ingest runs are org × source already; an import run counts toward each
# org × source its file delivered rows for (read back from the raw tables, by the file's path),
# or, when none is known (the file failed), toward its own name until it is imported again.
DELIVERIES_SQL = f"""
WITH import_runs AS (
    SELECT run_id, unit_id, org_id, started_at, finished_at, status, error
    FROM runs_now WHERE stage = 'import'
),
carried AS (
    SELECT DISTINCT r.run_id, r.unit_id, x.org_id, {SOURCE_OF.format(s="x.source_id")} AS source
    FROM raw_records x JOIN import_runs r
      ON x.run_id = r.run_id AND regexp_replace(x.origin, ':[0-9]+$', '') = r.unit_id
    WHERE x.org_id IS NOT NULL
    UNION
    SELECT DISTINCT r.run_id, r.unit_id, x._org_id, 'event_log_file'
    FROM raw_elf x JOIN import_runs r ON x._run_id = r.run_id AND x._origin = r.unit_id
    WHERE x._org_id IS NOT NULL
),
unknown AS (  -- files whose latest import delivered nothing we can place
    SELECT unit_id FROM import_runs GROUP BY unit_id
    HAVING NOT list_contains(?, arg_max(status, started_at))
)
-- A run that failed before learning the org id counts toward the org its unit names elsewhere.
SELECT coalesce(org_id, max(org_id) OVER (PARTITION BY unit_id), split_part(unit_id, '/', 1))
           AS org_id,
       split_part(unit_id, '/', -1) AS source, run_id, started_at, finished_at, status, error,
       unit_id
FROM runs_now
WHERE stage = 'ingest' AND (? IS NULL OR list_contains(?, split_part(unit_id, '/', 1))
                            OR list_contains(?, org_id))  -- an alias renamed since
UNION ALL
SELECT c.org_id, c.source, r.run_id, r.started_at, r.finished_at, r.status, r.error, r.unit_id
FROM carried c JOIN import_runs r USING (run_id, unit_id)
UNION ALL
SELECT coalesce(r.org_id, ''), 'import: ' || regexp_replace(r.unit_id, '^.*/', ''),
       r.run_id, r.started_at, r.finished_at, r.status, r.error, r.unit_id
FROM import_runs r SEMI JOIN unknown u USING (unit_id)
WHERE NOT EXISTS (SELECT 1 FROM carried c WHERE c.unit_id = r.unit_id)
UNION ALL  -- each webhook (dashboard/nightly/webhook.py) as org `webhook`, source its name
SELECT 'webhook', substr(unit_id, length('webhook/') + 1), run_id, started_at, finished_at,
       status, error, unit_id
FROM runs_now
WHERE stage = 'webhook' AND (? IS NULL OR list_contains(?, unit_id))
"""

HEALTH_SQL = f"""
WITH d AS ({DELIVERIES_SQL}),
settled AS (SELECT * FROM d WHERE status <> 'running' OR finished_at IS NOT NULL),
-- One delivery per run (one import command may bring many files of one source).
delivered AS (
    SELECT org_id, source, run_id, max(coalesce(finished_at, started_at)) AS delivered_at
    FROM settled
    WHERE list_contains(?, status) GROUP BY ALL
),
gaps AS (
    SELECT org_id, source,
           delivered_at - lag(delivered_at)
               OVER (PARTITION BY org_id, source ORDER BY delivered_at) AS gap
    FROM delivered
)
SELECT s.org_id, s.source,
       max(coalesce(s.finished_at, s.started_at)) FILTER (WHERE list_contains(?, s.status))
           AS last_success,
       arg_max(s.status, coalesce(s.finished_at, s.started_at)) AS last_status,
       arg_max(s.error, coalesce(s.finished_at, s.started_at)) AS last_error,
       (SELECT count(*) FROM delivered x WHERE x.org_id = s.org_id AND x.source = s.source)
           AS deliveries,
       (SELECT median(epoch(g.gap)) FROM gaps g
        WHERE g.org_id = s.org_id AND g.source = s.source AND g.gap >= ?) AS learned_seconds
FROM settled s GROUP BY ALL
"""

COLUMNS = [
    "org_id", "source", "state", "last_success", "cadence", "cadence_from", "age",
    "stale_after", "cadence_text", "age_text", "last_status", "last_error", "deliveries",
]  # fmt: skip


def pipeline_health(
    con: duckdb.DuckDBPyConnection, now: datetime, config: Config | None = None
) -> pd.DataFrame:
    """One row per org × source, worst state first: its last successful delivery, its cadence
    (and where it came from: `configured`, `learned`, `default`), its age, `stale_after`, the
    state (`failed`, `stale`, `not available`, `ok`), the latest run's status and error, and
    the durations as text (`cadence_text`, `age_text`) so every surface prints them alike.
    `config` gives `[ingest] cadence_hours` and limits ingest units to the orgs configured."""
    aliases = list(config.orgs) if config is not None and config.orgs else None
    org_ids = [to18(o.org_id) for o in config.orgs.values() if o.org_id] if aliases else None
    configured = dict(config.ingest.cadence_hours) if config is not None else {}
    hooks = [f"webhook/{name}" for name in config.webhooks] if config is not None else None
    found = con.execute(
        HEALTH_SQL,
        [list(SUCCEEDED), aliases, aliases, org_ids, hooks, hooks,
         list(SUCCEEDED), list(SUCCEEDED), MIN_CADENCE],
    ).fetchall()  # fmt: skip
    rows = [_judge(dict(zip(_RAW, values, strict=True)), now, configured) for values in found]
    rows.sort(key=lambda r: (STATES.index(r["state"]), r["org_id"], r["source"]))
    return pd.DataFrame(rows, columns=COLUMNS)


_RAW = (
    "org_id", "source", "last_success", "last_status", "last_error", "deliveries",
    "learned_seconds",
)  # fmt: skip


def _judge(row: dict[str, Any], now: datetime, configured: dict[str, float]) -> dict[str, Any]:
    learned = row.pop("learned_seconds")
    if row["source"] in configured:
        cadence, origin = timedelta(hours=configured[row["source"]]), "configured"
    elif learned is not None and not math.isnan(learned):
        cadence, origin = timedelta(seconds=round(learned)), "learned"
    else:
        cadence, origin = DEFAULT_CADENCE, "default"
    stale_after = cadence + max(MIN_SLACK, cadence / 12)
    last = row["last_success"]
    # A page asks at the minute (its cache key): a run finished since reads "0 s", not "-10 s".
    age = max(now - last, timedelta(0)) if last is not None else None
    if row["last_status"] == UNAVAILABLE_STATUS:
        state = "not available"
    elif row["last_status"] in FAILED or last is None:
        state = "failed"
    elif age is not None and age > stale_after:
        state = "stale"
    else:
        state = "ok"
    return {
        **row,
        "state": state,
        "cadence": cadence,
        "cadence_from": origin,
        "age": age,
        "stale_after": stale_after,
        "cadence_text": duration_text(cadence),
        "age_text": duration_text(age) if age is not None else "never",
    }


def problems(health: pd.DataFrame) -> pd.DataFrame:
    """The rows `tokensentry health` exits 1 on and the digest lists: failed or stale."""
    return health[health["state"].isin(PROBLEM_STATES)]


def duration_text(value: timedelta | float | None) -> str:
    """A duration as a person reads it: `30 d 0 h`, `5 h 12 min`, `45 min`, `20 s`; a
    negative one (a clock behind the data) as `-5 h 0 min`. Seconds when given a number."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if pd.isna(seconds):
        return ""
    sign = "-" if seconds < 0 else ""
    total = round(abs(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days} d {hours} h"
    if hours:
        return f"{sign}{hours} h {minutes} min"
    if minutes:
        return f"{sign}{minutes} min"
    return f"{sign}{secs} s"


def freshness(
    con: duckdb.DuckDBPyConnection, now: datetime, config: Config | None = None
) -> pd.DataFrame:
    """The old name of `pipeline_health` (bench and scripts call it)."""
    return pipeline_health(con, now, config)


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


def health_records(health: pd.DataFrame) -> list[dict[str, Any]]:
    """`pipeline_health` as plain records for JSON and CSV: times in ISO 8601 UTC, durations as
    hours (a number) and as text."""
    from .records import iso_z

    records = []
    for row in health.to_dict(orient="records"):
        age = row["age"]
        records.append(
            {
                "org_id": row["org_id"],
                "source": row["source"],
                "state": row["state"],
                "last_success": iso_z(row["last_success"]),
                "cadence": row["cadence_text"],
                "cadence_hours": round(row["cadence"].total_seconds() / 3600, 2),
                "cadence_from": row["cadence_from"],
                "age": row["age_text"],
                "age_hours": None
                if age is None or pd.isna(age)
                else round(age.total_seconds() / 3600, 2),
                "last_status": row["last_status"],
                "last_error": row["last_error"],
                "deliveries": int(row["deliveries"]),
            }
        )
    return records
