"""An alert's life after an analyst or a changed detector has spoken (issue 8, item 6).

Returning attackers. An alert an analyst resolved or marked false positive is closed: new
activity on the same finding must not be absorbed into it silently (the analyst would never see
it) nor reopen it (their decision is a record). It raises a new alert that links back with
`reopens_alert_id`; a second return after that one is closed links to it, and so on. The id of
each link is a pure function of the closed alert's id, so re-detection keeps finding it.

Changed verdicts. `detect --all` scans everything, so a detector's findings are then its whole
verdict: an alert nobody triaged that the detector no longer finds is marked superseded (kept,
hidden by default), and one it finds again at another severity is re-graded. Alerts an analyst
touched are never re-graded or superseded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

from ingest.prune import pruned_before

CLOSED = ("resolved", "false_positive")


@dataclass(frozen=True)
class Stored:
    """What the upsert needs to know about an alert already in the store."""

    alert_id: str
    severity: str
    first_seen_at: datetime
    last_seen_at: datetime
    event_ids: list[str]
    ips: list[str]
    created_at: datetime
    first_run_id: str
    status: str  # the analyst's: new, acknowledged, resolved, false_positive
    reopens_alert_id: str | None

    @property
    def closed(self) -> bool:
        return self.status in CLOSED

    @property
    def untriaged(self) -> bool:
        return self.status == "new"


def reopen_id(closed_alert_id: str) -> str:
    """The id of the alert that carries new activity on a closed alert."""
    return hashlib.md5(f"reopens|{closed_alert_id}".encode()).hexdigest()[:20]


STORED_SQL = """
SELECT a.alert_id, a.severity, a.first_seen_at, a.last_seen_at, a.event_ids, a.ips,
       a.created_at, a.first_run_id, coalesce(t.status, 'new'), a.reopens_alert_id
FROM alerts a LEFT JOIN triage t USING (alert_id)
WHERE list_contains(?, a.alert_id)
"""


def stored(con: duckdb.DuckDBPyConnection, alert_ids: Iterable[str]) -> dict[str, Stored]:
    ids = list(alert_ids)
    if not ids:
        return {}
    return {row[0]: Stored(*row) for row in con.execute(STORED_SQL, [ids]).fetchall()}


def open_target(
    con: duckdb.DuckDBPyConnection, base: Stored
) -> tuple[str, Stored | None, Stored, set[str]]:
    """Follow a closed alert's chain of returns to the alert new activity belongs to.

    Returns (target id, the stored target or None when it is yet to be created, the closed
    alert it links to, every event an analyst already judged along the chain)."""
    closed, judged = base, set(base.event_ids)
    while True:
        target_id = reopen_id(closed.alert_id)
        target = stored(con, [target_id]).get(target_id)
        if target is None or not target.closed:
            return target_id, target, closed, judged
        closed = target
        judged |= set(target.event_ids)


def event_span(
    con: duckdb.DuckDBPyConnection, event_ids: Iterable[str]
) -> tuple[datetime, datetime] | None:
    """When the given events happened (the new activity alone, not the closed alert's)."""
    [row] = con.execute(
        "SELECT min(occurred_at), max(occurred_at) FROM events WHERE list_contains(?, event_id)",
        [list(event_ids)],
    ).fetchall()
    return (row[0], row[1]) if row[0] is not None else None


def supersede_missing(
    con: duckdb.DuckDBPyConnection,
    detector_id: str,
    found: Iterable[str],
    *,
    run_id: str,
    now: datetime,
    horizon: timedelta | None,
) -> int:
    """After a full scan: mark the untriaged alerts of this detector it no longer finds.

    `horizon` bounds what a full scan can see (a detector that models only the last N days
    cannot re-judge an older alert); alerts last seen before it are left alone, and so are
    alerts last seen before a prune's cutoff: their uncited events are gone, not innocent."""
    oldest = now - horizon if horizon is not None else datetime.min
    oldest = max(oldest, pruned_before(con) or datetime.min)
    params: list[object] = [run_id, now, detector_id, list(found), oldest]
    [(count,)] = con.execute(
        """UPDATE alerts SET superseded_by_run = ?, superseded_at = ?
           WHERE detector_id = ? AND superseded_at IS NULL AND NOT list_contains(?, alert_id)
             AND last_seen_at >= ?
             AND alert_id NOT IN (SELECT alert_id FROM triage WHERE status <> 'new')""",
        params,
    ).fetchall()
    return count


def merge_severity(
    finding_severity: str, old: Stored | None, *, regrade: bool, rank: Mapping[str, int]
) -> str:
    """Re-detection never silently lowers a severity, except when a full scan re-grades an
    alert nobody has triaged (the detector's verdict changed)."""
    if old is None or (regrade and old.untriaged):
        return finding_severity
    return max(finding_severity, old.severity, key=rank.__getitem__)
