"""The SQL behind controls readiness, shaped for a 10-million-event store.

Each query is one scan with one hash aggregate per (app, org): counts of counter-examples and
of positive evidence per control, plus the first rows of each (DuckDB's top-k `arg_min(x, t,
n)`), never a sort or a window over the whole window's events. The rules are the issue's,
quoted in controls.py.
"""

from __future__ import annotations

# One evidence row, the same shape for every control so one table can show them all.
ROW = """{{'event_id': event_id, 'occurred_at': occurred_at, 'event_type': event_type,
    'grant_type': grant_type, 'is_success': is_success,
    'status': coalesce(error_description, status), 'user_id': user_id, 'source_ip': source_ip,
    'token_fp': token_fp, 'new_token_fp': new_token_fp, 'pkce': pkce, 'detail': {detail}}}"""


def _sample(condition: str, detail: str) -> str:
    """count and first rows of the events matching `condition`, as two columns."""
    return (
        f"count(*) FILTER ({condition}), "
        f"arg_min({ROW.format(detail=detail)}, occurred_at, ?) FILTER ({condition})"
    )


# `outside` (app_key, ip) is registered by the caller: the addresses an app's allowlist does not
# hold, judged in Python (ingest.netlist) once per distinct address.
FACTS_SQL = f"""
WITH ev AS (
    SELECT e.event_id, e.org_id, lower(e.app_name) AS app_key, e.occurred_at, e.event_type,
           e.grant_type, e.is_success, e.status, e.error_description, e.user_id, e.source_ip,
           e.token_fp, e.new_token_fp, e.pkce,
           e.event_type = 'token_exchange' AND e.grant_type = 'refresh_token'
               AND e.token_fp IS NOT NULL AND coalesce(e.is_success, false) AS rotated_use,
           e.grant_type = 'refresh_token' AND e.event_type IN ('login', 'token_exchange')
               AND o.ip IS NOT NULL AND e.is_success IS NOT NULL AS outside
    FROM events e LEFT JOIN outside o ON o.app_key = lower(e.app_name) AND o.ip = e.source_ip
    WHERE e.occurred_at BETWEEN ? AND ? AND list_contains(?, lower(e.app_name))
      AND e.grant_type IS NOT NULL
)
SELECT app_key, org_id, list(DISTINCT grant_type ORDER BY grant_type) AS grants,
    {_sample("grant_type = 'authorization_code' AND NOT pkce", "'no code verifier'")},
    {_sample("grant_type = 'authorization_code' AND pkce", "'code verifier sent'")},
    {
    _sample(
        "rotated_use AND (new_token_fp IS NULL OR new_token_fp = token_fp)",
        "CASE WHEN new_token_fp IS NULL THEN 'no new refresh token returned' "
        "ELSE 'the same refresh token returned' END",
    )
},
    {
    _sample(
        "rotated_use AND new_token_fp IS NOT NULL AND new_token_fp <> token_fp",
        "'a new refresh token returned'",
    )
},
    count(*) FILTER (rotated_use) - count(DISTINCT token_fp) FILTER (rotated_use) AS reused,
    {_sample("outside AND is_success", "'succeeded from outside the allowlist'")},
    {_sample("outside AND NOT is_success", "'blocked outside the allowlist'")}
FROM ev GROUP BY app_key, org_id ORDER BY app_key, org_id
"""

_REUSE_ROW = ROW.format(
    detail="'presentation ' || presentation || ' of one refresh token succeeded'"
)

# Only when `reused` > 0: the successful presentations after a token's first, to show them.
REUSED_SQL = f"""
WITH uses AS (
    SELECT e.*, lower(e.app_name) AS app_key,
           row_number() OVER (PARTITION BY e.org_id, e.token_fp ORDER BY e.occurred_at,
                              e.event_id) AS presentation
    FROM events e
    WHERE e.occurred_at BETWEEN ? AND ? AND lower(e.app_name) = ? AND e.org_id = ?
      AND e.event_type = 'token_exchange' AND e.grant_type = 'refresh_token'
      AND e.token_fp IS NOT NULL AND coalesce(e.is_success, false)
)
SELECT count(*), arg_min({_REUSE_ROW}, occurred_at, ?) FROM uses WHERE presentation > 1
"""

# Idle timeout, in steps that never sort the window's events. Step one aggregates each user's
# refresh / authorization uses of an app per day: the day's first success, first refresh
# success, last success and first refused refresh. Step two (a few rows per user) finds the last
# success before each day. A day whose first success is a refresh more than `idle_days` after
# that is a counter-example; a refresh refused before the day's first success, more than
# `idle_days` after it, is positive evidence. Uses before the window are read back `lookback`
# (idle_days + 1); a user silent that long who used the app at any time before is idle too
# (`earlier`). A new authorization-code grant starts a new token: it resets the count.
IDLE_HITS_SQL = """
WITH days AS (
    SELECT e.org_id, lower(e.app_name) AS app_key, e.user_id,
           CAST(e.occurred_at AS DATE) AS day,
           min(e.occurred_at) FILTER (WHERE e.is_success) AS first_success,
           min(e.occurred_at) FILTER (WHERE e.is_success AND e.grant_type = 'refresh_token')
               AS first_refresh,
           max(e.occurred_at) FILTER (WHERE e.is_success) AS last_success,
           min(e.occurred_at) FILTER (WHERE NOT e.is_success AND e.grant_type = 'refresh_token')
               AS first_refusal
    FROM events e
    WHERE e.occurred_at BETWEEN ? AND ? AND list_contains(?, lower(e.app_name))
      AND e.grant_type IN ('refresh_token', 'authorization_code')
      AND e.event_type IN ('login', 'token_exchange') AND e.user_id IS NOT NULL
      AND e.is_success IS NOT NULL
    GROUP BY ALL
),
earlier AS (
    SELECT e.org_id, lower(e.app_name) AS app_key, e.user_id, max(e.occurred_at) AS last_before
    FROM events e
    WHERE e.occurred_at < ? AND list_contains(?, lower(e.app_name))
      AND e.grant_type IN ('refresh_token', 'authorization_code') AND e.is_success
      AND e.event_type IN ('login', 'token_exchange') AND e.user_id IS NOT NULL
    GROUP BY ALL
),
judged AS (
    SELECT d.*, coalesce(max(d.last_success) OVER (
               PARTITION BY d.org_id, d.app_key, d.user_id ORDER BY d.day
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), b.last_before) AS idle_since
    FROM days d LEFT JOIN earlier b USING (org_id, app_key, user_id)
)
SELECT app_key, org_id, user_id, idle_since, first_refusal AS at, 'positive' AS kind
FROM judged
WHERE day >= ? AND first_refusal < coalesce(first_success, TIMESTAMP '9999-12-31')
  AND first_refusal - idle_since > to_days(CAST(? AS BIGINT))
UNION ALL
SELECT app_key, org_id, user_id, idle_since, first_refresh, 'counter'
FROM judged
WHERE day >= ? AND first_refresh = first_success
  AND first_refresh - idle_since > to_days(CAST(? AS BIGINT))
"""

# The events behind the idle hits (`idle_hits` registered by the caller: a few rows).
IDLE_ROWS_SQL = """
SELECT h.app_key, h.org_id, 'idle_timeout' AS control, h.kind, count(*) AS n,
       arg_min({'event_id': e.event_id, 'occurred_at': e.occurred_at,
                'event_type': e.event_type, 'grant_type': e.grant_type,
                'is_success': e.is_success, 'status': coalesce(e.error_description, e.status),
                'user_id': e.user_id, 'source_ip': e.source_ip, 'token_fp': e.token_fp,
                'new_token_fp': e.new_token_fp, 'pkce': e.pkce,
                'detail': CASE WHEN h.kind = 'counter' THEN 'used' ELSE 'refused' END
                          || ' after ' || date_diff('day', h.idle_since, h.at) || ' days idle'},
               e.occurred_at, ?) AS rows
FROM idle_hits h
JOIN events e ON e.org_id = h.org_id AND lower(e.app_name) = h.app_key
             AND e.user_id = h.user_id AND e.occurred_at = h.at
WHERE e.occurred_at BETWEEN ? AND ? AND e.grant_type = 'refresh_token'
  AND e.event_type IN ('login', 'token_exchange') AND e.is_success = (h.kind = 'counter')
GROUP BY ALL
"""

DISTINCT_IPS_SQL = """
SELECT DISTINCT lower(e.app_name) AS app_key, e.source_ip FROM events e
WHERE e.occurred_at BETWEEN ? AND ? AND list_contains(?, lower(e.app_name))
  AND e.grant_type = 'refresh_token' AND e.source_ip IS NOT NULL
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
