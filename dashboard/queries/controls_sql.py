"""The SQL behind controls readiness, shaped for a 10-million-event store.

Each query is one scan with one hash aggregate per (app, org): counts of counter-examples and
of positive evidence per control, plus the first rows of each (DuckDB's top-k `arg_min(x, t,
n)`), never a sort or a window over the whole window's events. The rules are the issue's,
quoted in controls.py.
"""

from __future__ import annotations

from detect.attribution import app_sql
from detect.detectors.off_allowlist_ip import DETECTOR as OFF_ALLOWLIST
from detect.scope import shown_ip_sql

# The detectors' evidence: a login the logs left app-less counts under the app attribution
# inferred for it; the allowlist covers the grants off_allowlist_ip judges; an app inferred
# from the user agent alone (confidence below its `min_confidence`) only makes a bypass
# suspected, as it only makes the alert medium.
APP = app_sql("e")
ALLOWLIST_GRANTS = "[" + ", ".join(f"'{g}'" for g in OFF_ALLOWLIST.settings["grant_types"]) + "]"
MIN_CONFIDENCE = float(OFF_ALLOWLIST.settings["min_confidence"])

# One evidence row, the same shape for every control so one table can show them all.
ROW = (
    """{{'event_id': event_id, 'occurred_at': occurred_at, 'event_type': event_type,
    'grant_type': grant_type, 'is_success': is_success,
    'status': coalesce(error_description, status), 'user_id': user_id,
    'source_ip': """
    + shown_ip_sql("")
    + """,
    'token_fp': token_fp, 'new_token_fp': new_token_fp, 'pkce': pkce,
    'app_inferred': app_inferred_reason, 'confidence': app_confidence, 'detail': {detail}}}"""
)

# (control, kind, condition, detail) of every fact FACTS_SQL counts and EVIDENCE_SQL shows.
FACTS = (
    ("pkce", "counter", "grant_type = 'authorization_code' AND NOT pkce", "'no code verifier'"),
    ("pkce", "positive", "grant_type = 'authorization_code' AND pkce", "'code verifier sent'"),
    (
        "rotation", "counter", "rotated_use AND (new_token_fp IS NULL OR new_token_fp = token_fp)",
        "CASE WHEN new_token_fp IS NULL THEN 'no new refresh token returned' "
        "ELSE 'the same refresh token returned' END",
    ),
    (
        "rotation", "positive",
        "rotated_use AND new_token_fp IS NOT NULL AND new_token_fp <> token_fp",
        "'a new refresh token returned'",
    ),
    (
        "allowlist", "counter", "outside AND is_success AND NOT weak",
        "'succeeded from outside the allowlist'",
    ),
    (
        "allowlist", "suspect", "outside AND is_success AND weak",
        "'succeeded from outside the allowlist (app inferred from the user agent only)'",
    ),
    ("allowlist", "positive", "outside AND NOT is_success", "'blocked outside the allowlist'"),
)  # fmt: skip

# The window's events of the configured apps, with the two flags the facts need. `outside`
# (app_key, ip) is registered by the caller: the addresses an app's allowlist does not hold,
# judged in Python (ingest.netlist) once per distinct address.
EVENTS_CTE = f"""
ev AS (
    SELECT e.event_id, e.org_id, lower({APP}) AS app_key, e.occurred_at, e.event_type,
           e.grant_type, e.is_success, e.status, e.error_description, e.user_id, e.source_ip,
           e.token_fp, e.new_token_fp, e.pkce,
           CASE WHEN e.app_name IS NULL THEN e.app_inferred_reason END AS app_inferred_reason,
           CASE WHEN e.app_name IS NULL THEN e.app_confidence END AS app_confidence,
           coalesce(e.app_name IS NULL AND e.app_confidence < {MIN_CONFIDENCE}, false) AS weak,
           e.event_type = 'token_exchange' AND e.grant_type = 'refresh_token'
               AND e.token_fp IS NOT NULL AND coalesce(e.is_success, false) AS rotated_use,
           list_contains({ALLOWLIST_GRANTS}, e.grant_type)
               AND e.event_type IN ('login', 'token_exchange')
               AND o.ip IS NOT NULL AND e.is_success IS NOT NULL AS outside
    FROM events e LEFT JOIN outside o ON o.app_key = lower({APP}) AND o.ip = e.source_ip
    WHERE e.occurred_at BETWEEN ? AND ? AND list_contains(?, lower({APP}))
      AND e.grant_type IS NOT NULL
)"""

# Counts only: one scan, one small hash aggregate. `maybe_reused` compares successful partner
# refreshes with their distinct token hashes; a hash collision can only raise it, and REUSED_SQL
# then checks the real fingerprints, so a reuse is never missed nor invented.
FACTS_SQL = f"""
WITH {EVENTS_CTE}
SELECT app_key, org_id, list(DISTINCT grant_type ORDER BY grant_type) AS grants,
    {", ".join(f"count(*) FILTER ({condition})" for _, _, condition, _ in FACTS)},
    count(*) FILTER (rotated_use) - count(DISTINCT hash(token_fp)) FILTER (rotated_use)
        AS maybe_reused
FROM ev GROUP BY app_key, org_id ORDER BY app_key, org_id
"""


def _which(alias: str = "") -> str:
    """The indexes (into FACTS) of the facts an `ev` row is, as a list expression."""
    return (
        "["
        + ", ".join(
            f"CASE WHEN {condition} THEN {index} END"
            for index, (_, _, condition, _) in enumerate(FACTS)
        )
        + "]"
    )


_DETAIL = (
    "CASE fact "
    + " ".join(f"WHEN {index} THEN {detail}" for index, (_, _, _, detail) in enumerate(FACTS))
    + " END"
)


def evidence_sql(wanted: list[tuple[int, str, str]]) -> str:
    """The first rows (by time) of each wanted (fact index, app_key, org_id), in one scan
    that keeps only their rows (parameters after the window's: app_key, org_id per fact, then
    the row limit). Only facts with few rows come here; an abundant one goes to sample_sql."""
    arms = " OR ".join(
        f"(app_key = ? AND org_id = ? AND ({FACTS[index][2]}))" for index, _, _ in wanted
    )
    which = (
        "CASE "
        + " ".join(
            f"WHEN app_key = ? AND org_id = ? AND ({FACTS[index][2]}) THEN {index}"
            for index, _, _ in wanted
        )
        + " END"
    )
    return f"""
WITH {EVENTS_CTE},
facts AS (SELECT *, {which} AS fact FROM ev WHERE {arms}),
firsts AS (
    SELECT * FROM facts QUALIFY row_number() OVER (
        PARTITION BY app_key, org_id, fact ORDER BY occurred_at, event_id) <= ?
)
SELECT app_key, org_id, fact,
       list({ROW.format(detail=_DETAIL)} ORDER BY occurred_at, event_id)
FROM firsts GROUP BY ALL
"""


def sample_sql(index: int) -> str:
    """Some rows of one abundant fact of one (app, org): LIMIT without ORDER BY stops early."""
    _, _, condition, detail = FACTS[index]
    return f"""
WITH {EVENTS_CTE}
SELECT {ROW.format(detail=detail)} FROM ev WHERE app_key = ? AND org_id = ? AND ({condition})
LIMIT ?
"""


_REUSE_ROW = ROW.format(
    detail="'presentation ' || presentation || ' of one refresh token succeeded'"
)

# Only when `reused` > 0: the successful presentations after a token's first, to show them.
REUSED_SQL = f"""
WITH uses AS (
    SELECT e.*, lower({APP}) AS app_key,
           row_number() OVER (PARTITION BY e.org_id, e.token_fp ORDER BY e.occurred_at,
                              e.event_id) AS presentation
    FROM events e
    WHERE e.occurred_at BETWEEN ? AND ? AND lower({APP}) = ? AND e.org_id = ?
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
    SELECT e.org_id, lower(coalesce(e.app_name, e.inferred_app)) AS app_key, e.user_id,
           CAST(e.occurred_at AS DATE) AS day,
           min(e.occurred_at) FILTER (WHERE e.is_success) AS first_success,
           min(e.occurred_at) FILTER (WHERE e.is_success AND e.grant_type = 'refresh_token')
               AS first_refresh,
           max(e.occurred_at) FILTER (WHERE e.is_success) AS last_success,
           min(e.occurred_at) FILTER (WHERE NOT e.is_success AND e.grant_type = 'refresh_token')
               AS first_refusal
    FROM events e
    WHERE e.occurred_at BETWEEN ? AND ?
      AND list_contains(?, lower(coalesce(e.app_name, e.inferred_app)))
      AND e.grant_type IN ('refresh_token', 'authorization_code')
      AND e.event_type IN ('login', 'token_exchange') AND e.user_id IS NOT NULL
      AND e.is_success IS NOT NULL
    GROUP BY ALL
),
earlier AS (
    SELECT e.org_id, lower(coalesce(e.app_name, e.inferred_app)) AS app_key, e.user_id,
           max(e.occurred_at) AS last_before
    FROM events e
    WHERE e.occurred_at < ? AND list_contains(?, lower(coalesce(e.app_name, e.inferred_app)))
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
                'app_inferred': CASE WHEN e.app_name IS NULL THEN e.app_inferred_reason END,
                'confidence': CASE WHEN e.app_name IS NULL THEN e.app_confidence END,
                'detail': CASE WHEN h.kind = 'counter' THEN 'used' ELSE 'refused' END
                          || ' after ' || date_diff('day', h.idle_since, h.at) || ' days idle'},
               e.occurred_at, ?) AS rows
FROM idle_hits h
JOIN events e ON e.org_id = h.org_id AND lower(coalesce(e.app_name, e.inferred_app)) = h.app_key
             AND e.user_id = h.user_id AND e.occurred_at = h.at
WHERE e.occurred_at BETWEEN ? AND ? AND e.grant_type = 'refresh_token'
  AND e.event_type IN ('login', 'token_exchange') AND e.is_success = (h.kind = 'counter')
GROUP BY ALL
"""

DISTINCT_IPS_SQL = f"""
SELECT DISTINCT lower({APP}) AS app_key, e.source_ip FROM events e
WHERE e.occurred_at BETWEEN ? AND ? AND list_contains(?, lower({APP}))
  AND list_contains({ALLOWLIST_GRANTS}, e.grant_type) AND e.source_ip IS NOT NULL
"""

# Monitoring: the org's last ingest or import (runs naming the org, or events loaded for it)
# and the last detect run, each with its status.
MONITORING_SQL = """
WITH loads AS (
    SELECT org_id, stage, status, finished_at, error, unit_id FROM runs
    WHERE stage IN ('ingest', 'import') AND org_id IS NOT NULL AND finished_at IS NOT NULL
),
loaded AS (  -- every org (a handful of groups): a filter per row would cost more
    SELECT org_id, max(ingested_at) AS loaded_at FROM events GROUP BY org_id
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
