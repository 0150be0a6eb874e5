"""What a digest says, as plain data: chosen from the store, before any rendering.

`collect` is the only function here that reads the store; the renderers and the message
builder work on the `DigestContent` it returns, so the golden-file test can pin the text of a
fixed data set and the browser test can load the HTML of the same content.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import duckdb

from ingest import retention
from ingest.config import Config
from ingest.org_profile import time_zones
from ingest.sfid import to18

from .. import timefmt
from ..queries import digest as digest_queries
from ..queries import health as health_queries
from ..queries.blast_radius import blast_radius, blast_radius_line
from ..queries.digest import SEVERITIES

FIRST_WINDOW = timedelta(hours=24)  # the first digest covers the last day of data


@dataclass(frozen=True)
class DigestAlert:
    alert_id: str
    detector: str
    severity: str
    org_id: str | None
    app: str | None
    user_id: str | None
    ips: tuple[str, ...]
    first_seen: datetime
    last_seen: datetime
    event_count: int
    summary: str
    status: str
    carried_over: bool = False  # open, untriaged and never mailed, older than this window
    username: str | None = None  # from `user_directory`: the User object, else the logs


@dataclass(frozen=True)
class DigestGroup:
    """An incident (or, before incidents exist, a lone alert) with the alerts this digest
    reports for it: the grouping an analyst works in."""

    incident_id: str
    severity: str  # the most severe alert this digest reports for it
    org_id: str | None  # None: a cross_org incident
    app: str | None
    alerts: tuple[DigestAlert, ...]
    is_incident: bool = False  # an incident of several alerts (not a lone alert)
    summary: str | None = None  # the incident's one-line summary
    incident_severity: str | None = None  # its highest alert's, reported or not
    total_alerts: int = 1  # every alert it holds, including those mailed before
    reopened: bool = False  # it had been resolved, and a new alert opened it again
    blast_radius: str = ""  # what its sessions and addresses read (queries.blast_radius)

    @property
    def first_seen(self) -> datetime:
        return min(alert.first_seen for alert in self.alerts)

    @property
    def last_seen(self) -> datetime:
        return max(alert.last_seen for alert in self.alerts)


@dataclass(frozen=True)
class PipelineProblem:
    kind: str  # failed | not available | stale | retention gap | digest not delivered
    unit: str
    detail: str


@dataclass(frozen=True)
class DigestContent:
    now: datetime
    covers_since: datetime
    groups: tuple[DigestGroup, ...]
    problems: tuple[PipelineProblem, ...]
    quarantined: int
    partial: bool = False
    notes: tuple[str, ...] = ()
    resend: bool = False
    detector_counts: dict[str, int] = field(default_factory=dict)
    previous_sent_at: datetime | None = None  # the last digest the server accepted
    explicit_since: bool = False  # --since chose the window
    time_zones: dict[str, str] = field(default_factory=dict)  # org id -> its IANA zone

    @property
    def alerts(self) -> list[DigestAlert]:
        return [alert for group in self.groups for alert in group.alerts]

    def severity_counts(self) -> dict[str, int]:
        counts = Counter(alert.severity for alert in self.alerts)
        return {severity: counts[severity] for severity in SEVERITIES if counts[severity]}

    def counts_text(self) -> str:
        """`2 critical, 1 info`: the one count the subject and the body both print."""
        return ", ".join(f"{n} {s}" for s, n in self.severity_counts().items())

    @property
    def carried_over(self) -> int:
        return sum(alert.carried_over for alert in self.alerts)

    @property
    def is_empty(self) -> bool:
        return not self.groups

    def message_id(self, domain: str) -> str:
        """Derived from what the digest covers: the same alert states (or, for an all-clear,
        the same night) always give the same Message-ID, so a crash after the server accepted
        the mail re-sends a copy mail systems recognise, never a second, different mail."""
        if self.groups:
            basis = "\n".join(sorted(f"{a.alert_id}:{a.severity}" for a in self.alerts))
        else:
            basis = f"all-clear:{self.covers_since.isoformat()}:{self.now.date().isoformat()}"
        if self.resend:  # a deliberate second copy must not be dropped as a duplicate
            basis += f"\nresend:{self.now.isoformat()}"
        return f"<digest-{hashlib.sha256(basis.encode()).hexdigest()[:32]}@{domain}>"


def collect(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    *,
    now: datetime,
    since: datetime | None = None,
    resend: bool = False,
    partial: bool = False,
    notes: tuple[str, ...] = (),
) -> DigestContent:
    """The alert states no sent digest covered yet and the pipeline's health since the last
    digest. `since` (or, on the first run, the last 24 h of data) bounds the alerts by when
    they were last seen; once a digest went out, anything detected after the first attempt
    that no sent digest covered is included, however old its events."""
    baseline = digest_queries.baseline(con)
    if since is not None:
        seen_since, detected_since = since, since
    elif baseline is not None:
        seen_since, detected_since = baseline.covers_since, baseline.started_at
    else:
        newest = digest_queries.newest_event_at(con) or now
        seen_since = newest - FIRST_WINDOW
        detected_since = now  # nothing detected in the future: the window alone decides
    rows = digest_queries.digest_alerts(
        con, seen_since=seen_since, detected_since=detected_since, include_sent=resend
    )
    groups = _with_blast_radius(con, config, _groups(rows))
    previous = digest_queries.last_sent_at(con)
    health_since = previous or min(seen_since, now - FIRST_WINDOW)
    return DigestContent(
        now=now,
        covers_since=seen_since,
        groups=tuple(groups),
        problems=tuple(_problems(con, health_since, now, config)),
        quarantined=digest_queries.quarantined_since(con, health_since),
        partial=partial,
        notes=notes,
        resend=resend,
        detector_counts=dict(Counter(row["detector"] for row in rows).most_common()),
        previous_sent_at=previous,
        explicit_since=since is not None,
        time_zones=time_zones(con),
    )


def _alert(row: dict[str, Any]) -> DigestAlert:
    return DigestAlert(
        alert_id=row["alert_id"],
        detector=row["detector"],
        severity=row["severity"],
        org_id=row["org_id"],
        app=row["app"],
        user_id=row["user_id"],
        ips=tuple(row["ips"]),
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        event_count=int(row["event_count"]),
        summary=row["summary"],
        status=row["status"],
        carried_over=bool(row.get("carried_over")),
        username=row.get("username"),
    )


def _groups(rows: list[dict[str, Any]]) -> list[DigestGroup]:
    """Alerts gathered under their incident; a group takes its most severe reported alert's
    severity; groups ordered by severity, then org, then app, then time."""
    by_incident: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_incident.setdefault(row["incident_id"], []).append(row)
    groups = []
    for incident_id, members in by_incident.items():
        alerts = tuple(_alert(row) for row in members)
        head = members[0]
        is_incident = head["incident_severity"] is not None and head["incident_alert_count"] > 1
        groups.append(
            DigestGroup(
                incident_id=incident_id,
                severity=min((a.severity for a in alerts), key=SEVERITIES.index),
                org_id=head["incident_org_id"] if is_incident else head["org_id"],
                app=head["incident_app"] if is_incident else head["app"],
                alerts=alerts,
                is_incident=is_incident,
                summary=head["incident_summary"] if is_incident else None,
                incident_severity=head["incident_severity"],
                total_alerts=int(head["incident_alert_count"]),
                reopened=bool(head["incident_reopened"]),
            )
        )
    groups.sort(
        key=lambda g: (
            SEVERITIES.index(g.severity),
            not is_cross_org(g),  # many orgs at once: the widest finding leads its severity
            g.org_id or "~",
            g.app or "~",
            g.first_seen,
        )
    )
    return groups


def _with_blast_radius(
    con: duckdb.DuckDBPyConnection, config: Config, groups: list[DigestGroup]
) -> list[DigestGroup]:
    """Each group with its incident's blast radius line (the incident page's numbers)."""
    labels = {to18(org.org_id): alias for alias, org in config.orgs.items() if org.org_id}

    def label(org_id: str) -> str:
        return f"{labels[org_id]} ({org_id})" if org_id in labels else org_id

    return [
        replace(group, blast_radius=blast_radius_line(
            blast_radius(con, group.incident_id, config), label))
        for group in groups
    ]  # fmt: skip


def is_cross_org(group: DigestGroup) -> bool:
    return any(alert.detector == "cross_org" for alert in group.alerts) or (
        group.is_incident and group.org_id is None
    )


def _problems(
    con: duckdb.DuckDBPyConnection, since: datetime, now: datetime, config: Config
) -> list[PipelineProblem]:
    """Failed, stale, incomplete and not available org × sources (`health.pipeline_health`,
    the answer of `/pipeline` and `tokensentry health`), failed detect runs since the last
    digest, retention gaps, and refused digests. Error texts are stored redacted by ingest."""
    labels = {to18(org.org_id): alias for alias, org in config.orgs.items() if org.org_id}
    problems = []
    for row in health_queries.pipeline_health(con, now, config).to_dict("records"):
        org = row["org_id"]
        unit = f"{labels.get(to18(org) if len(org) in (15, 18) else org, org)}/{row['source']}"
        last = row["last_success"]
        when = (
            "never delivered successfully"
            if last is None or last != last  # NaT
            else f"last successful delivery {timefmt.shown(last)}, {row['age_text']} ago"
        )
        usual = f"usual cadence {row['cadence_text']}"
        if row["state"] == "failed":
            error = f": {row['last_error']}" if row["last_error"] else ""
            problems.append(PipelineProblem("failed", unit, f"{row['last_status']}{error}; {when}"))
        elif row["state"] == "stale":
            problems.append(PipelineProblem("stale", unit, f"{when} ({usual})"))
        elif row["state"] == "not available":
            problems.append(
                PipelineProblem("not available", unit, row["last_error"] or "not available")
            )
        elif row["last_status"] == "partial":
            problems.append(PipelineProblem("incomplete", unit, row["last_error"] or "partial"))
    for row in digest_queries.failed_units(con, since).to_dict("records"):
        if row["stage"] in ("ingest", "import", "webhook"):
            continue  # judged per org × source (and per webhook) above
        detail = f"{row['status']}: {row['error']}" if row["error"] else row["status"]
        problems.append(PipelineProblem("failed", f"{row['stage']} {row['unit_id']}", detail))
    for gap in retention.read_gaps(con, since=since):
        org = labels.get(gap["org_id"], gap["org_id"])
        problems.append(
            PipelineProblem(
                "retention gap",
                f"{org}/{gap['source_id']}",
                f"no data from {timefmt.shown(gap['gap_start'])} to "
                f"{timefmt.shown(gap['gap_end'])}: Salesforce keeps "
                f"{gap['retention_days']} days"
                + ("" if gap["verified"] else " (retention not confirmed in its docs)"),
            )
        )
    for row in digest_queries.failed_digests(con, since).to_dict("records"):
        problems.append(
            PipelineProblem(
                "digest not delivered",
                timefmt.shown(row["created_at"]),
                f"{row['error']} (its alerts are in this digest)",
            )
        )
    return problems
