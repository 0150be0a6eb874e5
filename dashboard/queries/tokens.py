"""Refresh tokens by app, org and idle age, from OauthToken / OAuth usage snapshots.

Idleness is the `idle_token` detector's, computed by the detector's own SQL
(`detect.detectors.idle_token.SNAPSHOTS_SQL`): each token is measured at its org's latest token
snapshot (never at the newest data of another org, nor the wall clock), so an org whose token
export stopped shows no token expiring: that is a pipeline-health fact (`health`), not a token's.
A token re-authorized by the same user is gone. The thresholds are the detector's settings
(`[detectors.idle_token]` overrides them): heartbeat due from `warn_days`, expired from
`expire_days`.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from detect.detectors.idle_token import DETECTOR as IDLE_TOKEN
from detect.detectors.idle_token import SNAPSHOTS_SQL
from detect.registry import settings_for
from ingest.config import Config

from .filters import Filters
from .health import duration_text

HEARTBEAT_DAYS = IDLE_TOKEN.settings["warn_days"]
EXPIRE_DAYS = IDLE_TOKEN.settings["expire_days"]

TOKENS_SQL = f"""
WITH idle AS ({SNAPSHOTS_SQL}),
measured AS (
    SELECT i.*, greatest(i.read_at, i.last_used) AS as_of
    FROM idle i
)
SELECT m.org_id, m.app_name AS app, m.user_id, e.username, m.token_created_at AS created,
       m.last_used, m.use_count, m.as_of,
       epoch(m.as_of - m.last_used) / 86400.0 AS idle_days_exact,
       CASE WHEN epoch(m.as_of - m.last_used) / 86400.0 >= ? THEN 'expired'
            WHEN epoch(m.as_of - m.last_used) / 86400.0 >= ? THEN 'heartbeat due'
            ELSE 'active' END AS state
FROM measured m LEFT JOIN events e ON e.event_id = m.event_id
WHERE {{where}}
ORDER BY idle_days_exact DESC, m.org_id, app, m.user_id LIMIT 5000
"""


def idle_settings(config: Config | None) -> dict[str, Any]:
    """The idle_token detector's settings, with the configuration's overrides."""
    overrides = config.detectors.get(IDLE_TOKEN.id) if config is not None else None
    return settings_for(IDLE_TOKEN, overrides)


def refresh_tokens(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    config: Config | None = None,
) -> pd.DataFrame:
    """One row per live token (org, app, user, creation): last use, uses, `as_of` (its org's
    latest snapshot), idle days, `idle` as text (`30 d 0 h`) and its state (`active`,
    `heartbeat due`, `expired`), exactly as `idle_token` judges it."""
    filters = filters or Filters()
    settings = idle_settings(config)
    clauses, params = ["true"], []
    if filters.org_ids:
        clauses.append("list_contains(?, m.org_id)")
        params.append(list(filters.org_ids))
    if filters.apps:
        clauses.append("list_contains(?, lower(m.app_name))")
        params.append([app.lower() for app in filters.apps])
    frame = con.execute(
        TOKENS_SQL.format(where=" AND ".join(clauses)),
        [settings["expire_days"], settings["warn_days"], *params],
    ).df()
    frame.insert(
        frame.columns.get_loc("idle_days_exact"),
        "idle",
        [duration_text(days * 86400) for days in frame["idle_days_exact"]],
    )
    frame["idle_days"] = frame.pop("idle_days_exact").round(1)
    return frame


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
    """Dormant tokens used again: the idle-token detector's wake alerts, with their triage.
    A wake with no address (a partner log whose egress is not configured) shows what the
    detector called it (`unknown (not configured)`) instead of an empty cell."""
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
                   a.app_name AS app, a.user_id,
                   CASE WHEN len(a.ips) = 0 AND a.evidence->>'ip' IS NOT NULL
                        THEN [a.evidence->>'ip'] ELSE a.ips END AS ips,
                   a.last_seen_at AS used_again_at,
                   a.summary
            FROM alerts a LEFT JOIN triage t USING (alert_id)
            WHERE {" AND ".join(clauses)} ORDER BY a.last_seen_at DESC LIMIT 1000""",
        params,
    ).df()
