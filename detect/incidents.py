"""Incidents: the alerts of one story grouped, so an analyst triages a story once.

One attacker address in one org raises an IOC hit, an off-allowlist use, a user-agent hit and a
new network: four alerts, one incident. The rules (issue 9):

- an alert joins an incident of the same org that shares one of its link keys (an IP, a session
  of its events (SessionKey or LoginKey: a Threat Detection finding and the session's logins
  and API calls), a refresh token of its chain, or the user when the user is a person) and
  whose alerts are within `LINK_WINDOW` of it (the alert starts at most 24 h after the
  incident's last alert, and ends at most 24 h before its first, for late-arriving evidence);
- an address inside any allowlist or known egress is no link key: the partner's shared egress
  would otherwise merge the whole queue into one incident; an address in a cloud region an app
  rotates through (`new_network`'s owner-aware baseline) is not trusted and still links, since
  attackers rent in the same regions;
- membership is assigned once and kept, so the incident's id (its first alert's id) never
  changes; a new alert that matches several incidents joins the oldest (no merging);
- a `cross_org` alert opens (or joins, by app) an org-less incident that links the per-org
  incidents of the alerts it summarises.

"Open" is about time, not triage: a resolved incident still gains a matching alert, which is
what reopens it (its status follows from its alerts' triage; see dashboard/queries/incidents).
Alerts are visited in (first_seen_at, alert_id) order, so the result depends only on the store.
Detect calls `run` after every detector; re-running it without new alerts changes nothing.
"""

from __future__ import annotations

import traceback
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb
import pyarrow as pa

from ingest import runs
from ingest.config import Config
from ingest.netlist import IpAllowlist, parse_ip

from . import egress
from .detector import SEVERITIES

LINK_WINDOW = timedelta(hours=24)
CROSS_ORG = "cross_org"
# Grants only a person uses: a user with one of these logins is a person, not an integration.
PERSON_GRANTS = (
    "authorization_code",
    "user_agent",
    "ui",
    "ui_password",
    "password",
    "otp",
    "device",
)

SCOPE_SQL = """
CREATE OR REPLACE TEMP TABLE _incident_scope AS
WITH fresh AS (SELECT alert_id FROM alerts ANTI JOIN incident_alerts USING (alert_id)),
bounds AS (
    SELECT min(a.first_seen_at) - INTERVAL 24 HOUR AS lo,
           max(a.last_seen_at) + INTERVAL 24 HOUR AS hi
    FROM alerts a SEMI JOIN fresh USING (alert_id)
),
nearby AS (  -- incidents a fresh alert could join: only their members' keys are needed
    SELECT i.incident_id FROM incidents i, bounds b
    WHERE i.last_seen_at >= b.lo AND i.first_seen_at <= b.hi
)
SELECT alert_id, NULL AS incident_id FROM fresh
UNION ALL
SELECT m.alert_id, m.incident_id FROM incident_alerts m SEMI JOIN nearby USING (incident_id)
"""

ALERTS_SQL = """
SELECT s.alert_id, s.incident_id, a.detector_id, a.org_id, a.app_name, a.user_id, a.ips,
       a.first_seen_at, a.last_seen_at
FROM _incident_scope s JOIN alerts a USING (alert_id)
ORDER BY a.first_seen_at, a.alert_id
"""

# The link keys an alert's events carry: their sessions (Salesforce's SessionKey and LoginKey,
# shared by a login, its API calls and a Threat Detection finding about it) and their refresh
# tokens. One pass over the cited events for both.
EVENT_KEYS_SQL = """
WITH ids AS (
    SELECT a.alert_id, unnest(a.event_ids) AS event_id
    FROM alerts a SEMI JOIN _incident_scope USING (alert_id)
),
keys AS (
    SELECT ids.alert_id, unnest([
        'session:' || e.session_key, 'login:' || e.login_key,
        'token:' || e.token_fp, 'token:' || e.new_token_fp]) AS k
    FROM ids JOIN events e USING (event_id)
    WHERE e.token_fp IS NOT NULL OR e.new_token_fp IS NOT NULL
       OR e.session_key IS NOT NULL OR e.login_key IS NOT NULL
)
SELECT alert_id,
       list(DISTINCT k ORDER BY k) FILTER (WHERE NOT starts_with(k, 'token:')) AS sessions,
       list(DISTINCT k ORDER BY k) FILTER (WHERE starts_with(k, 'token:')) AS tokens
FROM keys WHERE k IS NOT NULL GROUP BY alert_id
"""

PERSONS_SQL = """
WITH pairs AS (
    SELECT DISTINCT a.org_id, a.user_id FROM alerts a SEMI JOIN _incident_scope USING (alert_id)
    WHERE a.user_id IS NOT NULL
)
SELECT DISTINCT e.org_id, e.user_id
FROM events e SEMI JOIN pairs p ON e.org_id = p.org_id AND e.user_id = p.user_id
WHERE e.event_type = 'login' AND list_contains(?, e.grant_type)
"""

REFRESH_SQL = f"""
WITH members AS (
    SELECT m.incident_id, a.*, list_position({list(SEVERITIES)!r}, a.severity) AS rank
    FROM incident_alerts m JOIN alerts a USING (alert_id)
),
links AS (
    SELECT m.incident_id, list(DISTINCT l.incident_id ORDER BY l.incident_id) AS linked
    FROM members m, unnest(json_extract_string(m.evidence, '$.alerts[*]')) AS u(linked_alert)
    JOIN incident_alerts l ON l.alert_id = u.linked_alert
    WHERE m.detector_id = 'cross_org' AND l.incident_id <> m.incident_id
    GROUP BY m.incident_id
),
agg AS (
    SELECT incident_id,
        any_value(org_id) AS org_id,
        {list(SEVERITIES)!r}[max(rank)] AS severity,
        first(app_name ORDER BY app_name IS NULL, rank DESC, first_seen_at, alert_id) AS app_name,
        first(user_id ORDER BY user_id IS NULL, rank DESC, first_seen_at, alert_id) AS user_id,
        list_sort(list_distinct(flatten(list(ips)))) AS ips,
        list_sort(list_distinct(list(detector_id))) AS detectors,
        min(first_seen_at) AS first_seen_at, max(last_seen_at) AS last_seen_at,
        count(*) AS alert_count,
        first(summary ORDER BY rank DESC, first_seen_at, alert_id) AS top_summary
    FROM members GROUP BY incident_id
)
SELECT g.incident_id, g.org_id, g.severity, g.app_name, g.user_id, g.ips, g.detectors,
    g.first_seen_at, g.last_seen_at, g.alert_count,
    CASE WHEN g.alert_count = 1 THEN g.top_summary
         ELSE g.alert_count || ' alerts (' || array_to_string(g.detectors, ', ') || '): '
              || g.top_summary END AS summary,
    coalesce(l.linked, []::VARCHAR[]) AS linked_incidents,
    CAST(? AS TIMESTAMP) AS created_at, CAST(? AS TIMESTAMP) AS updated_at
FROM agg g LEFT JOIN links l USING (incident_id)
"""

UPSERT_SQL = """
INSERT INTO incidents SELECT * FROM _incident_rows
ON CONFLICT (incident_id) DO UPDATE SET
    org_id = excluded.org_id, severity = excluded.severity, app_name = excluded.app_name,
    user_id = excluded.user_id, ips = excluded.ips, detectors = excluded.detectors,
    first_seen_at = excluded.first_seen_at, last_seen_at = excluded.last_seen_at,
    alert_count = excluded.alert_count, summary = excluded.summary,
    linked_incidents = excluded.linked_incidents, updated_at = excluded.updated_at
"""

CHANGED_SQL = """
CREATE OR REPLACE TEMP TABLE _incident_rows AS
SELECT r.* FROM _incident_fresh_rows r LEFT JOIN incidents i USING (incident_id)
WHERE i.incident_id IS NULL
   OR (r.org_id, r.severity, r.app_name, r.user_id, r.ips, r.detectors, r.first_seen_at,
       r.last_seen_at, r.alert_count, r.summary, r.linked_incidents)
      IS DISTINCT FROM
      (i.org_id, i.severity, i.app_name, i.user_id, i.ips, i.detectors, i.first_seen_at,
       i.last_seen_at, i.alert_count, i.summary, i.linked_incidents)
"""


@dataclass
class IncidentOutcome:
    status: str = "ok"  # ok | failed
    alerts_linked: int = 0
    incidents_new: int = 0
    incidents_updated: int = 0
    seconds: float = 0.0
    error: str | None = None


@dataclass
class _Incident:
    incident_id: str
    org_id: str | None
    first_seen: datetime
    last_seen: datetime
    keys: set[str] = field(default_factory=set)

    def near(self, first_seen: datetime, last_seen: datetime) -> bool:
        return (
            first_seen <= self.last_seen + LINK_WINDOW
            and last_seen >= self.first_seen - LINK_WINDOW
        )


def run(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    known: egress.KnownEgress,
    *,
    run_id: str,
    now: Callable[[], datetime],
    clock: Callable[[], float],
) -> IncidentOutcome:
    """Group this run's new alerts into incidents; one `runs` row (stage detect, unit incidents)."""
    started = now()
    runs.start(con, run_id=run_id, stage="detect", unit_id="incidents", now=started)
    tick = clock()
    try:
        outcome = update(con, config, known, now=started)
    except Exception as exc:  # recorded and surfaced (exit 1), never swallowed
        detail = "".join(traceback.format_exception_only(exc)).strip()
        outcome = IncidentOutcome(status="failed", error=f"incidents: {detail}")
    outcome.seconds = clock() - tick
    runs.finish(
        con,
        run_id=run_id,
        stage="detect",
        unit_id="incidents",
        status=outcome.status,
        now=now(),
        rows_read=outcome.alerts_linked,
        rows_new=outcome.incidents_new,
        error=outcome.error,
        details={"incidents_updated": outcome.incidents_updated},
    )
    return outcome


def update(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    known: egress.KnownEgress,
    *,
    now: datetime,
) -> IncidentOutcome:
    """Assign every alert not yet in an incident, then refresh the incidents' aggregates."""
    outcome = IncidentOutcome()
    con.execute(SCOPE_SQL)
    try:
        memberships = _assign(con, egress.infrastructure(config, known), now)
        con.execute("BEGIN TRANSACTION")
        try:
            if memberships:
                con.register("_incident_members", _members_table(memberships))
                con.execute("INSERT INTO incident_alerts SELECT * FROM _incident_members")
                con.unregister("_incident_members")
            new, changed = _refresh(con, now)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.execute("DROP TABLE IF EXISTS _incident_scope")
    outcome.alerts_linked = len(memberships)
    outcome.incidents_new, outcome.incidents_updated = new, changed - new
    return outcome


def _assign(
    con: duckdb.DuckDBPyConnection, infrastructure: list[IpAllowlist], now: datetime
) -> list[tuple[str, str, str, datetime]]:
    rows = con.execute(ALERTS_SQL).fetchall()
    if not any(row[1] is None for row in rows):
        return []
    event_keys = {
        alert: (sessions or [], tokens or [])
        for alert, sessions, tokens in con.execute(EVENT_KEYS_SQL).fetchall()
    }
    persons = set(con.execute(PERSONS_SQL, [list(PERSON_GRANTS)]).fetchall())

    def keys_of(row: tuple) -> list[str]:
        alert, _, detector, org, app, user, ips, *_ = row
        if detector == CROSS_ORG:
            return [f"app:{app.lower()}"] if app else []
        known = sorted(ip for ip in ips if ip)  # an unknown egress links nothing
        keys = [f"ip:{ip}" for ip in known if _links(ip, infrastructure)]
        sessions, tokens = event_keys.get(alert, ([], []))
        keys += sessions + tokens  # the strongest key that matches names the link: last wins
        if user is not None and (org, user) in persons:
            keys.append(f"user:{user}")
        return keys

    incidents: dict[str, _Incident] = {}
    index: dict[tuple[str | None, str], list[_Incident]] = defaultdict(list)

    def add(incident: _Incident, keys: Iterable[str], first: datetime, last: datetime) -> None:
        incident.first_seen = min(incident.first_seen, first)
        incident.last_seen = max(incident.last_seen, last)
        for key in keys:
            if key not in incident.keys:
                incident.keys.add(key)
                index[(incident.org_id, key)].append(incident)

    for row in rows:  # existing members first define the incidents they belong to
        alert, incident_id, _, org, *_, first, last = row
        if incident_id is not None:
            incident = incidents.setdefault(incident_id, _Incident(incident_id, org, first, last))
            add(incident, keys_of(row), first, last)
    assigned: list[tuple[str, str, str, datetime]] = []
    # Per-org alerts before cross_org ones, which summarise them.
    fresh = [row for row in rows if row[1] is None]
    fresh.sort(key=lambda row: row[2] == CROSS_ORG)
    for row in fresh:
        alert, _, _, org, *_, first, last = row
        keys = keys_of(row)
        candidates = {
            id(incident): (incident, key)
            for key in keys
            for incident in index[(org, key)]
            if incident.near(first, last)
        }
        if candidates:
            incident, key = min(
                candidates.values(), key=lambda pair: (pair[0].first_seen, pair[0].incident_id)
            )
            link = key
        else:
            incident = _Incident(alert, org, first, last)
            incidents[alert] = incident
            link = "first"
        add(incident, keys, first, last)
        assigned.append((alert, incident.incident_id, link, now))
    return assigned


def _links(ip: str, infrastructure: list[IpAllowlist]) -> bool:
    """An address links alerts unless it is the partner's (or is no address at all)."""
    address = parse_ip(ip)
    return address is not None and not any(address in net for net in infrastructure)


def _members_table(memberships: list[tuple[str, str, str, datetime]]) -> pa.Table:
    return pa.table(
        {
            "alert_id": [m[0] for m in memberships],
            "incident_id": [m[1] for m in memberships],
            "link": [m[2] for m in memberships],
            "joined_at": pa.array([m[3] for m in memberships], type=pa.timestamp("us")),
        }
    )


def _refresh(con: duckdb.DuckDBPyConnection, now: datetime) -> tuple[int, int]:
    """Recompute every incident's aggregates; write only those that changed. (new, changed)"""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _incident_fresh_rows AS {REFRESH_SQL}", [now, now])
    try:
        con.execute(CHANGED_SQL)
        new, changed = con.execute(
            "SELECT count(*) FILTER (WHERE incident_id NOT IN (SELECT incident_id FROM incidents)),"
            " count(*) FROM _incident_rows"
        ).fetchone()  # type: ignore[misc]
        if changed:
            con.execute(UPSERT_SQL)
    finally:
        con.execute("DROP TABLE IF EXISTS _incident_rows")
        con.execute("DROP TABLE IF EXISTS _incident_fresh_rows")
    return new, changed
