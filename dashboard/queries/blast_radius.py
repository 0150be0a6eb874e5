"""The blast radius of an incident: what its sessions, tokens and addresses read and exported,
per subscriber org and object, with the first and last minute. One answer for every surface:
the incident page, the digest line, the evidence pack and `tokensentry alerts --incidents`.

Whose reads: every API read (`detect.api_reads`: REST and SOAP calls, Bulk jobs counted once,
query pages attributed to their query) in the incident's orgs from one hour before its first
alert to a day after its last that either ran in a session of the incident (the login keys of
its alerts' events, and the sessions data_exfiltration named) or came from one of its addresses.
The partner's allowlisted and known egress is excepted from both: a chain alert cites the
partner's own refreshes too, and their sessions are not the thief's (a thief inside the egress
range is left to the data_exfiltration alert's own session). No Salesforce log names a refresh
token, so a token is seen through the sessions it opened.

Coverage: an org whose store holds no API, RestApi, BulkApi or BulkApi2 rows for those days
reads "no API logs for this window" (its Event Monitoring files were not delivered, or it has
no Event Monitoring), never "nothing exported"; ApiTotalUsage alone names objects, not rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from detect import egress
from detect.api_reads import API_TYPES, READS_SELECT, ROW_TYPES
from ingest.config import Config

NO_LOGS = "no API logs for this window"

MEMBERS_SQL = """
SELECT a.alert_id, a.detector_id, a.org_id, a.ips, a.event_ids, a.first_seen_at,
       a.last_seen_at, json_extract_string(a.evidence, '$.session') AS exfil_session
FROM incident_alerts m JOIN alerts a USING (alert_id)
WHERE m.incident_id = ?
"""

SESSIONS_SQL = """
SELECT DISTINCT org_id, coalesce(login_key, session_key) AS session, source_ip FROM events
WHERE list_contains(?, event_id) AND coalesce(login_key, session_key) IS NOT NULL
"""

ORGS_SQL = "SELECT DISTINCT org_id FROM events WHERE list_contains(?, event_id)"

READS_SQL = f"""
WITH reads AS ({READS_SELECT}),
hit AS (
    SELECT r.* FROM reads r
    WHERE list_contains($orgs, r.org_id)
      AND (list_contains($sessions, r.org_id || '|' || r.session)
           OR list_has_any(r.ips, $addresses))
)
SELECT org_id, entity, sum(rows) AS rows, count(DISTINCT job_id) AS jobs,
       min(first_at) AS first_at, max(last_at) AS last_at,
       list(DISTINCT session ORDER BY session) AS sessions,
       list_sort(list_distinct(flatten(list(ips)))) AS addresses,
       list_sort(list_distinct(list(user_id) FILTER (WHERE user_id IS NOT NULL))) AS users
FROM hit GROUP BY ALL
ORDER BY org_id, rows DESC, entity
"""

COVERAGE_SQL = """
SELECT org_id, list(DISTINCT kind ORDER BY kind) AS kinds,
       count(DISTINCT CAST(occurred_at AS DATE)) AS days
FROM (SELECT org_id, occurred_at, split_part(unnest(sources), ':', 2) AS kind FROM events
      WHERE event_type = 'api_request' AND list_contains($orgs, org_id)
        AND occurred_at >= $start AND occurred_at < $end)
WHERE list_contains($types, kind)
GROUP BY org_id
"""


def _minute(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%MZ")


def blast_radius(
    con: duckdb.DuckDBPyConnection, incident_id: str, config: Config | None = None
) -> dict[str, Any] | None:
    """What the incident's sessions and addresses read, per org and object; None when the
    incident does not exist."""
    members = con.execute(MEMBERS_SQL, [incident_id]).fetchall()
    if not members:
        return None
    start = min(m[5] for m in members) - timedelta(hours=1)
    end = max(m[6] for m in members) + timedelta(days=1)
    event_ids = sorted({e for m in members for e in m[4]})
    orgs = sorted(
        {m[2] for m in members if m[2]}
        | {row[0] for row in con.execute(ORGS_SQL, [event_ids]).fetchall()}
    )
    chosen = config or Config(path=None)
    now = datetime.now(UTC).replace(tzinfo=None)
    nets = egress.infrastructure(chosen, egress.load(con, chosen, now))

    def theirs(ip: str | None) -> bool:  # not the partner's own allowlisted / known egress
        return ip is None or not any(ip in net for net in nets)

    sessions = {
        f"{org}|{session}"
        for org, session, ip in con.execute(SESSIONS_SQL, [event_ids]).fetchall()
        if theirs(ip)
    }
    sessions |= {f"{m[2]}|{m[7]}" for m in members if m[1] == "data_exfiltration" and m[7]}
    addresses = sorted({ip for m in members for ip in m[3] if theirs(ip)})
    reads = con.execute(
        READS_SQL,
        {"start": start, "end": end, "orgs": orgs, "sessions": sorted(sessions),
         "addresses": addresses},
    ).fetchall()  # fmt: skip
    coverage = {
        org: (kinds, days)
        for org, kinds, days in con.execute(
            COVERAGE_SQL, {"start": start, "end": end, "orgs": orgs, "types": list(API_TYPES)}
        ).fetchall()
    }
    span_days = (end.date() - start.date()).days + 1
    result_orgs = []
    for org in orgs:
        kinds, days = coverage.get(org, ([], 0))
        counted = [k for k in kinds if k in ROW_TYPES]
        objects = [
            {"object": r[1], "rows": int(r[2]), "jobs": int(r[3]),
             "first_minute": _minute(r[4]), "last_minute": _minute(r[5]),
             "sessions": list(r[6]), "addresses": list(r[7]), "users": list(r[8])}
            for r in reads if r[0] == org
        ]  # fmt: skip
        if counted:
            statement = f"{', '.join(kinds)} on {days} of {span_days} day(s)"
        elif kinds:
            statement = "ApiTotalUsage only: objects and calls, no row counts"
        else:
            statement = NO_LOGS
        result_orgs.append(
            {"org_id": org, "covered": bool(counted), "coverage": statement,
             "rows": sum(o["rows"] for o in objects), "objects": objects}
        )  # fmt: skip
    firsts = [o["first_minute"] for org in result_orgs for o in org["objects"]]
    lasts = [o["last_minute"] for org in result_orgs for o in org["objects"]]
    return {
        "incident_id": incident_id,
        "window": {"start": _minute(start), "end": _minute(end)},
        "sessions": sorted(s.split("|", 1)[1] for s in sessions),
        "addresses": addresses,
        "rows_total": sum(org["rows"] for org in result_orgs),
        "first_minute": min(firsts) if firsts else None,
        "last_minute": max(lasts) if lasts else None,
        "orgs": result_orgs,
    }


def blast_radius_line(blast: dict[str, Any] | None, org_label: Any = None) -> str:
    """One line for the digest and the CLI: rows per object, orgs, span, coverage gaps."""
    if not blast:
        return ""
    label = org_label or (lambda org: org)
    totals: dict[str, int] = {}
    for org in blast["orgs"]:
        for item in org["objects"]:
            totals[item["object"]] = totals.get(item["object"], 0) + item["rows"]
    read = [org for org in blast["orgs"] if org["rows"]]
    parts = []
    if read:
        top = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
        listed = ", ".join(f"{name} {rows:,}" for name, rows in top[:4] if rows)
        more = f" (+{len(top) - 4} more objects)" if len(top) > 4 else ""
        parts.append(
            f"{blast['rows_total']:,} rows read ({listed}{more}) in {len(read)} org(s), "
            f"{blast['first_minute']} to {blast['last_minute']}"
        )
    else:
        covered = [org for org in blast["orgs"] if org["covered"]]
        if covered:
            parts.append(f"no rows read in {', '.join(label(o['org_id']) for o in covered)}")
    blind = [org for org in blast["orgs"] if not org["covered"]]
    if blind:
        parts.append(f"{NO_LOGS}: {', '.join(label(o['org_id']) for o in blind)}")
    return "Blast radius: " + "; ".join(parts) + "."
