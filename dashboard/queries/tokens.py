"""Refresh tokens by app, org and idle age, from OauthToken / OAuth usage snapshots.

Idle age is measured at the newest event in the store (the data's "now"), so a store built from
old exports still shows which tokens were due. The thresholds are Salesforce's: the idle timeout
expires a token unused for 30 days; a heartbeat refresh is due from day 25.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd

from .filters import Filters

HEARTBEAT_DAYS = 25
EXPIRE_DAYS = 30


def refresh_tokens(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None,
    as_of: datetime,
    *,
    heartbeat_days: int = HEARTBEAT_DAYS,
    expire_days: int = EXPIRE_DAYS,
) -> pd.DataFrame:
    """One row per token (org, app, user, creation): last use, uses, idle days and its state."""
    filters = filters or Filters()
    clauses, params = ["event_type = 'token_usage'"], []
    if filters.org_ids:
        clauses.append("list_contains(?, org_id)")
        params.append(list(filters.org_ids))
    if filters.apps:
        clauses.append("list_contains(?, lower(app_name))")
        params.append([app.lower() for app in filters.apps])
    return con.execute(
        f"""WITH tokens AS (
                SELECT org_id, coalesce(app_name, '(unknown app)') AS app, user_id,
                       max(username) AS username, token_created_at AS created,
                       max(occurred_at) AS last_used, max(use_count) AS use_count
                FROM events WHERE {" AND ".join(clauses)} GROUP BY ALL)
            SELECT *, round(date_diff('minute', last_used, CAST(? AS TIMESTAMP)) / 1440.0, 1)
                          AS idle_days,
                   CASE WHEN last_used <= CAST(? AS TIMESTAMP) - to_days(CAST(? AS INTEGER))
                            THEN 'expired'
                        WHEN last_used <= CAST(? AS TIMESTAMP) - to_days(CAST(? AS INTEGER))
                            THEN 'heartbeat due'
                        ELSE 'active' END AS state
            FROM tokens ORDER BY idle_days DESC, org_id, app, user_id LIMIT 5000""",
        [*params, as_of, as_of, expire_days, as_of, heartbeat_days],
    ).df()


def token_states(frame: pd.DataFrame) -> pd.DataFrame:
    """Counts per app, org and state, for the summary chart."""
    if frame.empty:
        return pd.DataFrame(columns=["app", "org_id", "state", "tokens"])
    return (
        frame.groupby(["app", "org_id", "state"], as_index=False)
        .size()
        .rename(columns={"size": "tokens"})
    )


def dormant_wakes(con: duckdb.DuckDBPyConnection, filters: Filters | None) -> pd.DataFrame:
    """Dormant tokens used again: the idle-token detector's wake alerts, with their triage."""
    filters = filters or Filters()
    clauses, params = ["a.detector_id = 'idle_token'", "a.dedup_key LIKE 'dormant|%'"], []
    if filters.org_ids:
        clauses.append("list_contains(?, a.org_id)")
        params.append(list(filters.org_ids))
    if filters.apps:
        clauses.append("list_contains(?, lower(a.app_name))")
        params.append([app.lower() for app in filters.apps])
    return con.execute(
        f"""SELECT a.alert_id, a.severity, coalesce(t.status, 'new') AS status, a.org_id,
                   a.app_name AS app, a.user_id, a.ips, a.last_seen_at AS used_again_at,
                   a.summary
            FROM alerts a LEFT JOIN triage t USING (alert_id)
            WHERE {" AND ".join(clauses)} ORDER BY a.last_seen_at DESC LIMIT 1000""",
        params,
    ).df()
