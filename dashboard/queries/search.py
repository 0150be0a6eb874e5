"""One search box: an IP, a user or an app, across every org, with its alerts and events."""

from __future__ import annotations

import duckdb
import pandas as pd

from ingest.netlist import parse_ip

from .filters import _escape_like


def search_kind(needle: str) -> str:
    """What the box holds: "ip" for an address, else "text" (user id, username or app)."""
    return "ip" if parse_ip(needle) is not None else "text"


def search_alerts(con: duckdb.DuckDBPyConnection, needle: str, limit: int = 500) -> pd.DataFrame:
    """Alerts whose IPs hold the address, or whose user or app matches the text."""
    needle = needle.strip()
    if search_kind(needle) == "ip":
        predicate, params = "list_contains(a.ips, ?)", [str(parse_ip(needle))]
    else:
        like = f"%{_escape_like(needle.lower())}%"
        predicate = (
            "(lower(a.user_id) LIKE ? ESCAPE '\\' OR lower(a.app_name) LIKE ? ESCAPE '\\' "
            "OR a.alert_id = ?)"
        )
        params = [like, like, needle]
    return con.execute(
        f"""SELECT a.alert_id, a.severity, coalesce(t.status, 'new') AS status,
                   a.detector_id AS detector, a.org_id, a.app_name AS app, a.user_id, a.ips,
                   a.last_seen_at AS last_seen, a.summary
            FROM alerts a LEFT JOIN triage t USING (alert_id)
            WHERE {predicate}
            ORDER BY list_position(['info','low','medium','high','critical'], a.severity) DESC,
                     a.last_seen_at DESC
            LIMIT ?""",
        [*params, limit],
    ).df()


def _event_predicate(needle: str) -> tuple[str, list[str]]:
    if search_kind(needle) == "ip":
        return "source_ip = ?", [str(parse_ip(needle))]
    like = f"%{_escape_like(needle.lower())}%"
    return (
        "(user_id = ? OR lower(username) LIKE ? ESCAPE '\\' OR lower(app_name) LIKE ? ESCAPE '\\')",
        [needle, like, like],
    )


def search_events(con: duckdb.DuckDBPyConnection, needle: str, limit: int = 500) -> pd.DataFrame:
    """The newest events from the address, or of the user (id or username) or app."""
    predicate, params = _event_predicate(needle.strip())
    return con.execute(
        f"""SELECT occurred_at, org_id, event_type, grant_type, is_success, status, user_id,
                   username, app_name AS app, source_ip, country_iso, city, user_agent
            FROM events WHERE {predicate} ORDER BY occurred_at DESC LIMIT ?""",
        [*params, limit],
    ).df()


def search_summary(con: duckdb.DuckDBPyConnection, needle: str) -> pd.DataFrame:
    """Per org: how many events match, first and last seen (the whole history, not a page)."""
    predicate, params = _event_predicate(needle.strip())
    return con.execute(
        f"""SELECT org_id, count(*) AS events, min(occurred_at) AS first_seen,
                   max(occurred_at) AS last_seen
            FROM events WHERE {predicate} GROUP BY ALL ORDER BY events DESC""",
        params,
    ).df()
