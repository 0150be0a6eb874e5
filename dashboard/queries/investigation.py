"""What the investigation notebooks ask the store: what it holds, what was found, and every
event of an incident's addresses, users and app across orgs.

An investigation starts from an incident or an alert id (`scope_of`): its addresses, users, app
and time span. `pivot_events` then pulls everything those addresses and users did in any org
(not only the events the detectors kept), and `app_activity` shows the app's traffic per org and
day around it, so an analyst sees whether the theft touched orgs no detector flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from detect import egress
from detect.scope import shown_ip_sql
from ingest.config import Config

from .alerts import alert
from .filters import Filters
from .incidents import incident, incident_alerts, incidents
from .people import user_join

SHOWN_IP = shown_ip_sql()  # a partner call without its NAT address: "unknown (not configured)"

PIVOT_COLUMNS = f"""e.event_id, e.occurred_at, e.org_id, e.event_type, e.grant_type, e.is_success,
e.status, e.user_id, coalesce(ud.username, e.username) AS username,
coalesce(e.app_name, e.inferred_app) AS app,
e.app_name IS NULL AND e.inferred_app IS NOT NULL AS app_inferred, {SHOWN_IP} AS source_ip,
e.country_iso,
e.city, e.latitude, e.longitude, e.user_agent, e.api_family, e.api_resource, e.rows_processed,
e.entity_name, e.job_id, e.job_status, e.worker, e.token_fp, e.new_token_fp,
e.error_description, array_to_string(e.sources, ' ') AS sources"""


@dataclass(frozen=True)
class Scope:
    """What an investigation pivots on."""

    kind: str  # incident | alert
    target_id: str
    severity: str
    summary: str
    alert_ids: list[str]
    org_ids: list[str]
    ips: list[str]  # the addresses to pivot on: not the partner's own egress
    user_ids: list[str]
    apps: list[str]
    first_seen: datetime
    last_seen: datetime
    detectors: list[str] = field(default_factory=list)
    trusted_ips: list[str] = field(default_factory=list)  # inside an allowlist or known egress
    usernames: dict[str, str] = field(default_factory=dict)  # user id → username, when known


def store_inventory(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per org and source: events, the first and newest, and how many days the source's newest
    event lags the org's newest (a source that stopped delivering stands out)."""
    return con.execute(
        """WITH per AS (
               SELECT org_id, unnest(sources) AS source, occurred_at FROM events
           ), agg AS (
               SELECT org_id, source, count(*) AS events, min(occurred_at) AS first_event,
                      max(occurred_at) AS newest_event
               FROM per GROUP BY ALL
           )
           SELECT org_id, source, events, first_event, newest_event,
                  round(date_diff('minute', newest_event,
                        max(newest_event) OVER (PARTITION BY org_id)) / 1440.0, 1) AS days_behind
           FROM agg ORDER BY org_id, source"""
    ).df()


def detector_findings(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Alerts per detector and severity (superseded ones left out), with how many are open."""
    return con.execute(
        """SELECT a.detector_id AS detector, a.severity, count(*) AS alerts,
                  count(*) FILTER (WHERE coalesce(t.status, 'new') = 'new') AS open,
                  count(DISTINCT a.org_id) AS orgs
           FROM alerts a LEFT JOIN triage t USING (alert_id)
           WHERE a.superseded_at IS NULL
           GROUP BY a.detector_id, a.severity
           ORDER BY detector,
                    list_position(['info','low','medium','high','critical'], a.severity) DESC"""
    ).df()


def most_severe_open_incident(con: duckdb.DuckDBPyConnection) -> str | None:
    """The queue's first open incident: most severe, then most recent."""
    queue = incidents(con, Filters(statuses=("new",)), limit=1)
    return None if queue.empty else str(queue["incident_id"].iloc[0])


def scope_of(con: duckdb.DuckDBPyConnection, target_id: str, config: Config | None = None) -> Scope:
    """An incident id or an alert id, as what to pivot on. With `config`, addresses inside an
    app's allowlist or known egress (the partner's own, shared by every org) are set apart in
    `trusted_ips`, as incidents never link on them either."""
    found = incident(con, target_id)
    if found is not None:
        held = incident_alerts(con, target_id)
        rows = held.to_dict("records")
        kind, severity, summary = "incident", found["severity"], found["summary"]
    else:
        one = alert(con, target_id)
        if one is None:
            raise KeyError(f"{target_id}: no such incident or alert in the store")
        rows = [one]
        kind, severity, summary = "alert", one["severity"], one["summary"]
    addresses = _distinct(ip for r in rows for ip in (r["ips"] if r["ips"] is not None else []))
    trusted = set()
    if config is not None:
        nets = egress.infrastructure(config, egress.load(con, config, datetime.now(UTC)))
        trusted = {ip for ip in addresses if any(ip in net for net in nets)}
    return Scope(
        kind=kind,
        target_id=target_id,
        severity=severity,
        summary=summary,
        alert_ids=[r["alert_id"] for r in rows],
        org_ids=_distinct(r["org_id"] for r in rows),
        ips=[ip for ip in addresses if ip not in trusted],
        user_ids=_distinct(r["user_id"] for r in rows),
        apps=_distinct(r["app"] for r in rows),
        first_seen=min(pd.Timestamp(r["first_seen"]) for r in rows).to_pydatetime(),
        last_seen=max(pd.Timestamp(r["last_seen"]) for r in rows).to_pydatetime(),
        detectors=_distinct(r["detector"] for r in rows),
        trusted_ips=sorted(trusted),
        usernames={
            r["user_id"]: r["username"]
            for r in rows
            if isinstance(r.get("user_id"), str) and isinstance(r.get("username"), str)
        },
    )


def pivot_events(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    margin: timedelta = timedelta(days=1),
    limit: int = 20_000,
) -> pd.DataFrame:
    """Every event, in any org, from the scope's addresses (whenever they appear) or by its
    users within `margin` of the scope's span; oldest first, with why each row was pulled."""
    return con.execute(
        f"""SELECT {PIVOT_COLUMNS},
                   concat_ws(', ',
                       CASE WHEN list_contains(?, e.source_ip) THEN 'same IP' END,
                       CASE WHEN list_contains(?, e.user_id) THEN 'same user' END) AS pulled_by
            FROM events e {user_join("e")}
            WHERE list_contains(?, e.source_ip)
               OR (list_contains(?, e.user_id) AND e.occurred_at BETWEEN ? AND ?)
            ORDER BY e.occurred_at, e.event_id LIMIT ?""",
        [
            scope.ips, scope.user_ids, scope.ips, scope.user_ids,
            scope.first_seen - margin, scope.last_seen + margin, limit,
        ],
    ).df()  # fmt: skip


def app_activity(
    con: duckdb.DuckDBPyConnection, scope: Scope, *, margin: timedelta = timedelta(days=3)
) -> pd.DataFrame:
    """The scope's apps per org and UTC day around the span: uses, failures, distinct IPs and
    the IPs that are also the scope's, so the same thief in an unflagged org shows up."""
    return con.execute(
        """SELECT e.org_id, CAST(e.occurred_at AS DATE) AS day,
                  coalesce(e.app_name, e.inferred_app) AS app, count(*) AS events,
                  count(*) FILTER (WHERE e.is_success = false) AS failures,
                  count(DISTINCT e.source_ip) AS ips,
                  count(*) FILTER (WHERE list_contains(?, e.source_ip)) AS scope_ip_events,
                  coalesce(list(DISTINCT e.source_ip) FILTER (WHERE list_contains(?, e.source_ip)),
                           []) AS scope_ips
           FROM events e
           WHERE list_contains(?, lower(coalesce(e.app_name, e.inferred_app)))
             AND e.occurred_at BETWEEN ? AND ?
           GROUP BY ALL ORDER BY day, e.org_id""",
        [
            scope.ips,
            scope.ips,
            [app.lower() for app in scope.apps],
            scope.first_seen - margin,
            scope.last_seen + margin,
        ],
    ).df()


def token_chains(
    con: duckdb.DuckDBPyConnection, scope: Scope, *, margin: timedelta = timedelta(hours=6)
) -> pd.DataFrame:
    """The partner's token log for the scope's orgs and users around the span: which worker
    presented which fingerprint, from where, with what outcome, and what came back."""
    return con.execute(
        f"""SELECT e.occurred_at AS at, e.org_id, e.user_id, e.worker, e.grant_type,
                  e.token_fp AS presented, e.new_token_fp AS returned, {SHOWN_IP} AS ip,
                  CASE WHEN e.is_success THEN 'accepted' WHEN e.is_success = false
                       THEN 'refused' ELSE 'unknown' END AS outcome,
                  coalesce(e.error_description, e.status) AS detail, e.pkce
           FROM events e
           WHERE e.event_type = 'token_exchange' AND list_contains(?, e.org_id)
             AND list_contains(?, e.user_id) AND e.occurred_at BETWEEN ? AND ?
           ORDER BY e.occurred_at, e.event_id""",
        [scope.org_ids, scope.user_ids, scope.first_seen - margin, scope.last_seen + margin],
    ).df()


def _distinct(values: Any) -> list:
    return sorted({v for v in values if v is not None and v == v})  # v == v drops NaN
