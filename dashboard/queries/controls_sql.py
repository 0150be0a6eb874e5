"""The SQL behind controls readiness: one pass over the window's events per question.

Every query returns, per (app_key, org_id, control, kind), the number of rows and the first
`?` of them as structs, where kind is `counter` (a counter-example: the control is off) or
`positive` (positive evidence that it is on). The rules are the issue's, quoted in controls.py.
"""

from __future__ import annotations

# The events of the configured apps in the window. `outside` (app_key, ip) is registered by the
# caller: the addresses the app's allowlist does not hold (parsed in Python, per distinct IP).
EVENTS_CTE = """
ev AS MATERIALIZED (
    SELECT e.event_id, e.org_id, lower(e.app_name) AS app_key, e.occurred_at, e.event_type,
           e.grant_type, e.is_success, e.status, e.error_description, e.user_id, e.source_ip,
           e.token_fp, e.new_token_fp, e.pkce, e.sources
    FROM events e
    WHERE e.occurred_at BETWEEN ? AND ? AND list_contains(?, lower(e.app_name))
)"""

# Shape of one evidence row, the same for every control so one table can show them all.
ROW = """{'event_id': event_id, 'occurred_at': occurred_at, 'event_type': event_type,
          'grant_type': grant_type, 'is_success': is_success,
          'status': coalesce(error_description, status), 'user_id': user_id,
          'source_ip': source_ip, 'token_fp': token_fp, 'new_token_fp': new_token_fp,
          'pkce': pkce, 'detail': detail}"""

COLLECT = f"""
SELECT app_key, org_id, control, kind, count(*) AS n,
       list({ROW} ORDER BY occurred_at, event_id)[1:?] AS rows
FROM facts GROUP BY ALL
"""

GRANTS_SQL = f"""
WITH {EVENTS_CTE}
SELECT app_key, org_id, list(DISTINCT grant_type ORDER BY grant_type) AS grants
FROM ev WHERE grant_type IS NOT NULL GROUP BY ALL ORDER BY app_key, org_id
"""

DISTINCT_IPS_SQL = f"""
WITH {EVENTS_CTE}
SELECT DISTINCT app_key, source_ip FROM ev
WHERE grant_type = 'refresh_token' AND source_ip IS NOT NULL
"""

FACTS_SQL = f"""
WITH {EVENTS_CTE},
refreshes AS (
    SELECT * FROM ev
    WHERE grant_type = 'refresh_token' AND event_type IN ('login', 'token_exchange')
),
partner_refreshes AS (
    SELECT * FROM refreshes
    WHERE event_type = 'token_exchange' AND token_fp IS NOT NULL AND is_success
),
presented AS (
    SELECT *, row_number() OVER (PARTITION BY org_id, token_fp ORDER BY occurred_at, event_id)
              AS presentation
    FROM partner_refreshes
),
facts AS (
    -- PKCE: an authorization-code grant without a verifier; every one with a verifier.
    SELECT *, 'pkce' AS control,
           CASE WHEN pkce THEN 'positive' ELSE 'counter' END AS kind,
           CASE WHEN pkce THEN 'code verifier sent' ELSE 'no code verifier' END AS detail
    FROM ev WHERE grant_type = 'authorization_code' AND pkce IS NOT NULL
    UNION ALL BY NAME
    -- Rotation: a successful refresh that returned no token or the same one ...
    SELECT *, 'rotation' AS control,
           CASE WHEN new_token_fp IS NULL OR new_token_fp = token_fp THEN 'counter'
                ELSE 'positive' END AS kind,
           CASE WHEN new_token_fp IS NULL THEN 'no new refresh token returned'
                WHEN new_token_fp = token_fp THEN 'the same refresh token returned'
                ELSE 'a new refresh token returned' END AS detail
    FROM partner_refreshes
    UNION ALL BY NAME
    -- ... or a token Salesforce accepted a second time.
    SELECT * EXCLUDE (presentation), 'rotation' AS control, 'counter' AS kind,
           'presentation ' || presentation || ' of one refresh token succeeded' AS detail
    FROM presented WHERE presentation > 1
    UNION ALL BY NAME
    -- Allowlist enforced: a success from outside the allowlist; an attempt there blocked.
    SELECT r.*, 'allowlist' AS control,
           CASE WHEN coalesce(r.is_success, false) THEN 'counter' ELSE 'positive' END AS kind,
           CASE WHEN coalesce(r.is_success, false) THEN 'succeeded from outside the allowlist'
                ELSE 'blocked outside the allowlist' END AS detail
    FROM refreshes r SEMI JOIN outside o ON o.app_key = r.app_key AND o.ip = r.source_ip
    WHERE r.is_success IS NOT NULL
)
{COLLECT}
"""

# Idle timeout: for each refresh attempt in the window, the user's previous successful use of
# the app (refresh or a new authorization). More than `idle_days` before: a success is a
# counter-example, a refusal positive evidence. Uses before the window are read back
# `idle_days` + 1; a user silent that long who had used the app earlier is idle too.
IDLE_SQL = """
WITH uses AS (
    SELECT e.event_id, e.org_id, lower(e.app_name) AS app_key, e.user_id, e.occurred_at,
           e.event_type, e.grant_type, e.is_success, e.status, e.error_description,
           e.source_ip, e.token_fp, e.new_token_fp, e.pkce
    FROM events e
    WHERE e.occurred_at BETWEEN ? AND ? AND list_contains(?, lower(e.app_name))
      AND e.grant_type IN ('refresh_token', 'authorization_code')
      AND e.event_type IN ('login', 'token_exchange') AND e.user_id IS NOT NULL
),
ordered AS (
    SELECT *, max(CASE WHEN coalesce(is_success, false) THEN occurred_at END) OVER (
                  PARTITION BY org_id, app_key, user_id ORDER BY occurred_at, event_id
                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS previous_use
    FROM uses
),
earlier AS (  -- users who used the app before the look-back: idle at least that long
    SELECT e.org_id, lower(e.app_name) AS app_key, e.user_id, max(e.occurred_at) AS last_before
    FROM events e
    WHERE e.occurred_at < ? AND list_contains(?, lower(e.app_name))
      AND e.grant_type IN ('refresh_token', 'authorization_code') AND coalesce(e.is_success, false)
      AND e.event_type IN ('login', 'token_exchange') AND e.user_id IS NOT NULL
    GROUP BY ALL
),
judged AS (
    SELECT o.*, coalesce(o.previous_use, b.last_before) AS idle_since
    FROM ordered o LEFT JOIN earlier b USING (org_id, app_key, user_id)
    WHERE o.occurred_at >= ? AND o.grant_type = 'refresh_token' AND o.is_success IS NOT NULL
),
facts AS (
    SELECT *, 'idle_timeout' AS control,
           CASE WHEN is_success THEN 'counter' ELSE 'positive' END AS kind,
           (CASE WHEN is_success THEN 'used' ELSE 'refused' END) || ' after '
               || date_diff('day', idle_since, occurred_at) || ' days idle' AS detail
    FROM judged WHERE occurred_at - idle_since > to_days(CAST(? AS BIGINT))
)
SELECT app_key, org_id, control, kind, count(*) AS n,
       list({'event_id': event_id, 'occurred_at': occurred_at, 'event_type': event_type,
             'grant_type': grant_type, 'is_success': is_success,
             'status': coalesce(error_description, status), 'user_id': user_id,
             'source_ip': source_ip, 'token_fp': token_fp, 'new_token_fp': new_token_fp,
             'pkce': pkce, 'detail': detail} ORDER BY occurred_at, event_id)[1:?] AS rows
FROM facts GROUP BY ALL
"""

# Monitoring: the org's last ingest or import (runs naming the org, or events loaded for it)
# and the last detect run, each with its status.
MONITORING_SQL = """
WITH loads AS (
    SELECT org_id, stage, status, finished_at, error, unit_id FROM runs
    WHERE stage IN ('ingest', 'import') AND org_id IS NOT NULL AND finished_at IS NOT NULL
),
loaded AS (
    SELECT org_id, max(ingested_at) AS loaded_at FROM events
    WHERE list_contains(?, org_id) GROUP BY org_id
),
last_ok AS (
    SELECT org_id, max(finished_at) AS at FROM loads WHERE status IN ('ok', 'partial')
    GROUP BY org_id
),
last_failure AS (
    SELECT org_id, arg_max(error, finished_at) AS error, max(finished_at) AS at,
           arg_max(unit_id, finished_at) AS unit_id
    FROM loads WHERE status = 'failed' GROUP BY org_id
),
detected AS (
    SELECT max(finished_at) FILTER (WHERE status = 'ok') AS ok_at,
           max(finished_at) FILTER (WHERE status = 'failed') AS failed_at
    FROM runs WHERE stage = 'detect' AND finished_at IS NOT NULL
)
SELECT o.org_id, greatest(k.at, l.loaded_at) AS last_load, f.at AS failed_at, f.error,
       f.unit_id AS failed_unit, d.ok_at AS detect_ok_at, d.failed_at AS detect_failed_at
FROM (SELECT unnest(?) AS org_id) o
LEFT JOIN last_ok k USING (org_id) LEFT JOIN loaded l USING (org_id)
LEFT JOIN last_failure f USING (org_id) CROSS JOIN detected d
"""
