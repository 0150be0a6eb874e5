"""One search box across every org: an IP, a network (CIDR, IPv4 or IPv6), a user (id,
username or name), an org (id, alias or name) or an app, with its alerts and events.

What the box holds is resolved once (`resolve`) into sets the three queries share: the
addresses it covers, the users whose id, username or name match (`user_directory`, so an alert
of a LoginHistory-only user is found by its username), and the orgs whose id, configured alias
or Salesforce name (`Organization.Name`) match. A network is matched in Python with
`ipaddress` over the distinct addresses the store holds (DuckDB's `inet` extension downloads on
first use, which an offline machine cannot), once per address, never per event.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from ingest.netlist import parse_ip
from ingest.sfid import is_salesforce_id, to18

from .filters import _escape_like

OrgAliases = tuple[tuple[str, str], ...]  # (alias, org id): the configuration's orgs

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Needle:
    text: str
    kind: str  # ip | network | text
    ips: list[str] = field(default_factory=list)  # the addresses searched for (stored form)
    users: list[str] = field(default_factory=list)  # user ids whose id, username or name match
    orgs: list[str] = field(default_factory=list)  # org ids whose id, alias or name match
    like: str = ""  # LIKE pattern of the lower-cased text (apps, usernames on events)

    def describe(self) -> str:
        if self.kind == "ip":
            return "IP address"
        if self.kind == "network":
            return f"network ({len(self.ips)} address(es) seen in it)"
        found = [f"{len(self.users)} user(s)"] if self.users else []
        found += [f"{len(self.orgs)} org(s)"] if self.orgs else []
        return "user, org or app" + (f": {', '.join(found)}" if found else "")


def _network(text: str) -> IpNetwork | None:
    if "/" not in text:
        return None
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def search_kind(needle: str) -> str:
    """What the box holds: "ip" for an address, "network" for a CIDR, else "text"."""
    if parse_ip(needle) is not None:
        return "ip"
    return "network" if _network(needle) is not None else "text"


def _addresses_in(con: duckdb.DuckDBPyConnection, network: IpNetwork) -> list[str]:
    """The distinct stored addresses (alerts' and events') inside `network`."""
    rows = con.execute(
        """SELECT DISTINCT ip FROM (
               SELECT unnest(ips) AS ip FROM alerts
               UNION ALL SELECT source_ip FROM events WHERE source_ip IS NOT NULL)"""
    ).fetchall()
    found = []
    for (text,) in rows:
        address = parse_ip(text or "")
        if address is not None and address.version == network.version and address in network:
            found.append(text)
    return sorted(found)


def resolve(con: duckdb.DuckDBPyConnection, text: str, orgs: OrgAliases = ()) -> Needle:
    text = text.strip()
    kind = search_kind(text)
    if kind == "ip":
        return Needle(text, kind, ips=[str(parse_ip(text))])
    if kind == "network":
        network = _network(text)
        assert network is not None
        return Needle(text, kind, ips=_addresses_in(con, network))
    lowered = text.lower()
    like = f"%{_escape_like(lowered)}%"
    exact_id = to18(text) if is_salesforce_id(text) else text
    users = [
        row[0]
        for row in con.execute(
            """SELECT DISTINCT user_id FROM user_directory
               WHERE user_id = ? OR lower(username) LIKE ? ESCAPE '\\'
                  OR lower(name) LIKE ? ESCAPE '\\'
               ORDER BY user_id""",
            [exact_id, like, like],
        ).fetchall()
    ]
    if is_salesforce_id(text) and exact_id not in users:
        users.append(exact_id)  # an id no source named yet is still that user's
    named = {org_id for alias, org_id in orgs if lowered in alias.lower()}
    named |= {
        row[0]
        for row in con.execute(
            """SELECT DISTINCT org_id FROM raw_records WHERE source_id = 'soql:Organization'
               AND (lower(payload->>'Name') LIKE ? ESCAPE '\\' OR org_id = ?)""",
            [like, exact_id],
        ).fetchall()
    }
    if is_salesforce_id(text) and exact_id.startswith("00D"):
        named.add(exact_id)
    return Needle(text, kind, users=users, orgs=sorted(named), like=like)


def _alert_predicate(needle: Needle) -> tuple[str, list]:
    if needle.kind != "text":
        return "list_has_any(a.ips, CAST(? AS VARCHAR[]))", [needle.ips]
    return (
        "(list_contains(CAST(? AS VARCHAR[]), a.user_id) "
        "OR list_contains(CAST(? AS VARCHAR[]), a.org_id) "
        "OR lower(a.app_name) LIKE ? ESCAPE '\\' OR a.alert_id = ?)",
        [needle.users, needle.orgs, needle.like, needle.text],
    )


def search_alerts(
    con: duckdb.DuckDBPyConnection, needle: str, limit: int = 500, *, orgs: OrgAliases = ()
) -> pd.DataFrame:
    """Alerts whose IPs hold the address (or one in the network), or whose user, org or app
    matches the text; `matched` says which."""
    found = resolve(con, needle, orgs)
    predicate, params = _alert_predicate(found)
    return con.execute(
        f"""SELECT a.alert_id, a.severity, coalesce(t.status, 'new') AS status,
                   a.detector_id AS detector, a.org_id, a.app_name AS app, a.user_id,
                   ud.username, a.ips, a.last_seen_at AS last_seen, a.summary,
                   concat_ws(', ',
                       CASE WHEN list_has_any(a.ips, CAST(? AS VARCHAR[])) THEN 'IP' END,
                       CASE WHEN list_contains(CAST(? AS VARCHAR[]), a.user_id) THEN 'user' END,
                       CASE WHEN list_contains(CAST(? AS VARCHAR[]), a.org_id) THEN 'org' END,
                       CASE WHEN lower(a.app_name) LIKE ? ESCAPE '\\' THEN 'app' END,
                       CASE WHEN a.alert_id = ? THEN 'alert id' END) AS matched
            FROM alerts a LEFT JOIN triage t USING (alert_id)
            LEFT JOIN user_directory ud ON ud.org_id = a.org_id AND ud.user_id = a.user_id
            WHERE {predicate}
            ORDER BY list_position(['info','low','medium','high','critical'], a.severity) DESC,
                     a.last_seen_at DESC
            LIMIT ?""",
        [
            found.ips, found.users, found.orgs, found.like or "\x00", found.text,
            *params, limit,
        ],
    ).df()  # fmt: skip


def _event_predicate(needle: Needle) -> tuple[str, list]:
    if needle.kind != "text":
        return "list_contains(CAST(? AS VARCHAR[]), e.source_ip)", [needle.ips]
    return (
        "(list_contains(CAST(? AS VARCHAR[]), e.user_id) OR lower(e.username) LIKE ? ESCAPE '\\' "
        "OR list_contains(CAST(? AS VARCHAR[]), e.org_id) OR lower(e.app_name) LIKE ? ESCAPE '\\')",
        [needle.users, needle.like, needle.orgs, needle.like],
    )


def search_events(
    con: duckdb.DuckDBPyConnection, needle: str, limit: int = 500, *, orgs: OrgAliases = ()
) -> pd.DataFrame:
    """The newest events from the address or network, or of the user, org or app."""
    predicate, params = _event_predicate(resolve(con, needle, orgs))
    return con.execute(
        f"""SELECT e.occurred_at, e.org_id, e.event_type, e.grant_type, e.is_success, e.status,
                   e.user_id, coalesce(ud.username, e.username) AS username,
                   e.app_name AS app, e.source_ip, e.country_iso, e.city, e.user_agent
            FROM events e
            LEFT JOIN user_directory ud ON ud.org_id = e.org_id AND ud.user_id = e.user_id
            WHERE {predicate} ORDER BY e.occurred_at DESC LIMIT ?""",
        [*params, limit],
    ).df()


def search_summary(
    con: duckdb.DuckDBPyConnection, needle: str, *, orgs: OrgAliases = ()
) -> pd.DataFrame:
    """Per org: how many events match, first and last seen (the whole history, not a page)."""
    predicate, params = _event_predicate(resolve(con, needle, orgs))
    return con.execute(
        f"""SELECT e.org_id, count(*) AS events, min(e.occurred_at) AS first_seen,
                   max(e.occurred_at) AS last_seen
            FROM events e WHERE {predicate} GROUP BY ALL ORDER BY events DESC""",
        params,
    ).df()


def search_needle(
    con: duckdb.DuckDBPyConnection, needle: str, *, orgs: OrgAliases = ()
) -> dict[str, object]:
    """What the box was read as (for the page's "Searching for" line)."""
    found = resolve(con, needle, orgs)
    return {"kind": found.kind, "describe": found.describe(), "addresses": len(found.ips)}
