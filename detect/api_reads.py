"""What API calls read: one row per REST or SOAP call and per Bulk job, with its app, session,
object and rows, built set-based from the API, RestApi, BulkApi, BulkApi2 and ApiTotalUsage
event log files (ingest keeps their ENTITY_NAME / ENTITY_TYPE, URI, operation, JOB_ID and
JOB_STATUS, migration 015).

- **Rows**: `ROWS_PROCESSED` of API and RestApi rows, `RECORDS_PROCESSED` of Bulk rows.
  ApiTotalUsage rows carry calls, objects and the app, never rows (nor a session key): they
  count for the objects touched (breadth), with 0 rows, unless the RestApi or API row of the
  same call (same `REQUEST_ID`: one transaction, one id in every event type) speaks for them.
- **Bulk jobs**: BulkApi2 logs one row per job-state change (UploadComplete, InProgress, a
  processing update, JobComplete, Aborted, Deleted). A job counts once: its rows are the
  largest `RECORDS_PROCESSED` any of its rows reports (the counter only grows; a Deleted row
  that reports 0 cannot hide what the job read), its status the last one logged. Bulk API 1.0
  (BulkApi) logs a row per batch operation (`BATCH_ID`): its rows add up. Ingest jobs
  (insert, update, upsert, delete, hardDelete) write, they do not read, and are left out, as
  are REST and SOAP calls whose method writes.
- **REST paging**: a query's later pages (`nextRecordsUrl`, URI
  `/services/data/vXX.X/query/01g…-2000`) name no object. They take the object of another page
  of the same query locator that names one, else of the session's latest call that named an
  object before the locator's first page (an ASOF join).
- **App**: as logged, else through the connected app id (ApiTotalUsage and the OAuth Usage
  inventory pair ids and names, as `detect.attribution` does for logins), else the one app the
  session's login and calls name (the login's app may itself be inferred by attribution).
- **Session**: `LOGIN_KEY`, else `SESSION_KEY`; rows with neither are grouped per user, address
  and UTC day ("no session key").
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from .attribution import app_sql

WRITE_OPERATIONS = (
    "insert", "update", "upsert", "delete", "harddelete", "undelete", "create", "merge",
    "post", "put", "patch",
)  # fmt: skip
LOCATOR_PATTERN = r"/query(?:All)?/([0-9A-Za-z]{15,18})-[0-9]+"
UNNAMED = "(unnamed object)"


def _list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def _call_columns(entity: str) -> str:
    """A call's read, its object given by `entity` (alias `a`: the call, `n`: a named one)."""
    return f"""a.org_id, a.app, a.user_id, a.session, a.kind, {entity} AS entity,
           a.locator, CAST(NULL AS VARCHAR) AS job_id, CAST(NULL AS VARCHAR) AS job_status,
           CASE WHEN a.kind = 'usage' THEN 0 ELSE coalesce(a.rows_processed, 0) END AS rows,
           a.occurred_at AS first_at, a.occurred_at AS last_at, a.updated_at,
           CASE WHEN a.source_ip IS NULL THEN [] ELSE [a.source_ip] END AS ips,
           [a.event_id] AS event_ids"""


# The reads of [$start, $end) as one SELECT (read-only surfaces embed it as a subquery).
READS_SELECT = f"""
WITH logged AS (
    SELECT e.event_id, e.request_id, e.org_id, e.occurred_at, e.updated_at, e.user_id, e.source_ip,
           e.app_name, e.connected_app_id, e.login_key, e.entity_name, e.uri, e.job_id,
           e.job_status, e.rows_processed,
           CASE WHEN list_contains(e.sources, 'elf:BulkApi2')
                     OR list_contains(e.sources, 'elf:BulkApi') THEN 'bulk'
                WHEN list_contains(e.sources, 'elf:ApiTotalUsage') THEN 'usage'
                ELSE 'call' END AS kind,
           list_contains(e.sources, 'elf:BulkApi') AS bulk_v1,
           coalesce(e.login_key, e.session_key, 'no session key: ' || coalesce(e.user_id, '?')
               || ' from ' || coalesce(e.source_ip, '?') || ' on '
               || strftime(e.occurred_at, '%Y-%m-%d')) AS session,
           nullif(regexp_extract(coalesce(e.uri, ''), '{LOCATOR_PATTERN}', 1), '') AS locator
    FROM events e
    WHERE e.event_type = 'api_request' AND e.occurred_at >= $start AND e.occurred_at < $end
      AND (e.rows_processed IS NOT NULL OR e.entity_name IS NOT NULL)
      AND NOT list_contains({_list(WRITE_OPERATIONS)}, lower(coalesce(e.operation, '')))
),
raw AS (  -- an ApiTotalUsage row whose call RestApi / API logged too (same REQUEST_ID) is
          -- the same call: the call row speaks for it, with its session and rows
    SELECT * FROM logged u
    WHERE NOT (u.kind = 'usage' AND u.request_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM logged c WHERE c.kind = 'call' AND c.org_id = u.org_id
                                 AND c.request_id = u.request_id))
),
app_ids AS (  -- connected app id -> name, per org (ApiTotalUsage pairs, OAuth Usage inventory)
    SELECT org_id, connected_app_id, mode(app_name) AS app
    FROM events
    WHERE connected_app_id IS NOT NULL AND app_name IS NOT NULL
    GROUP BY ALL
),
named_calls AS (
    SELECT r.*, coalesce(r.app_name, i.app) AS named_app
    FROM raw r LEFT JOIN app_ids i USING (org_id, connected_app_id)
),
session_apps AS (
    SELECT org_id, login_key, min(app) AS app, count(DISTINCT lower(app)) AS apps
    FROM (
        SELECT org_id, login_key, {app_sql("l")} AS app FROM events l
        WHERE l.event_type = 'login' AND l.login_key IS NOT NULL
          AND {app_sql("l")} IS NOT NULL
          AND l.occurred_at >= $start - INTERVAL 1 DAY AND l.occurred_at < $end
          AND EXISTS (SELECT 1 FROM raw r WHERE r.org_id = l.org_id
                      AND r.login_key = l.login_key)
        UNION ALL
        SELECT org_id, login_key, named_app FROM named_calls
        WHERE login_key IS NOT NULL AND named_app IS NOT NULL
    )
    GROUP BY ALL
),
resolved AS (
    SELECT c.*, coalesce(c.named_app, CASE WHEN s.apps = 1 THEN s.app END) AS app
    FROM named_calls c LEFT JOIN session_apps s USING (org_id, login_key)
),
calls AS (SELECT * FROM resolved WHERE kind <> 'bulk'),
locator_objects AS (
    SELECT org_id, locator, min(entity_name) AS entity, min(occurred_at) AS first_page_at
    FROM calls WHERE locator IS NOT NULL GROUP BY ALL
),
anchored AS (
    SELECT c.*, l.entity AS locator_entity,
           coalesce(l.first_page_at, c.occurred_at) AS anchor_at
    FROM calls c LEFT JOIN locator_objects l USING (org_id, locator)
),
unnamed AS (  -- calls that name no object, not even through their query locator
    SELECT * FROM anchored
    WHERE kind = 'call' AND entity_name IS NULL AND locator_entity IS NULL
),
named AS (  -- the objects those calls' sessions named, by time
    SELECT c.org_id, c.session, c.occurred_at, c.entity_name AS entity FROM calls c
    WHERE c.kind = 'call' AND c.entity_name IS NOT NULL
      AND EXISTS (SELECT 1 FROM unnamed u WHERE u.org_id = c.org_id AND u.session = c.session)
),
call_reads AS (
    SELECT {_call_columns("coalesce(a.entity_name, a.locator_entity, '" + UNNAMED + "')")}
    FROM anchored a
    WHERE NOT (a.kind = 'call' AND a.entity_name IS NULL AND a.locator_entity IS NULL)
    UNION ALL
    SELECT {_call_columns("coalesce(n.entity, '" + UNNAMED + "')")}
    FROM unnamed a
    ASOF LEFT JOIN named n
        ON n.org_id = a.org_id AND n.session = a.session AND a.anchor_at >= n.occurred_at
),
job_reads AS (
    SELECT org_id, arg_min(app, occurred_at) AS app, arg_min(user_id, occurred_at) AS user_id,
           arg_min(session, occurred_at) AS session, 'bulk' AS kind,
           coalesce(min(entity_name), '{UNNAMED}') AS entity, NULL AS locator,
           min(job_id) AS job_id, arg_max(job_status, occurred_at) AS job_status,
           coalesce(CASE WHEN bool_or(bulk_v1) THEN sum(rows_processed)
                         ELSE max(rows_processed) END, 0) AS rows,
           min(occurred_at) AS first_at, max(occurred_at) AS last_at, max(updated_at) AS updated_at,
           coalesce(list(DISTINCT source_ip) FILTER (WHERE source_ip IS NOT NULL), []) AS ips,
           list(event_id ORDER BY occurred_at, event_id) AS event_ids
    FROM resolved WHERE kind = 'bulk'
    GROUP BY org_id, coalesce(job_id, event_id)
)
SELECT * FROM call_reads
UNION ALL BY NAME
SELECT * FROM job_reads
"""
READS_SQL = f"CREATE OR REPLACE TEMP TABLE api_reads AS {READS_SELECT}"
ROW_TYPES = ("API", "RestApi", "BulkApi", "BulkApi2")  # the event log files that count rows
API_TYPES = (*ROW_TYPES, "ApiTotalUsage")


def build(con: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> int:
    """Fill TEMP `api_reads` with the reads of [start, end); return how many."""
    con.execute(READS_SQL, {"start": start, "end": end})
    return con.execute("SELECT count(*) FROM api_reads").fetchone()[0]  # type: ignore[index]
