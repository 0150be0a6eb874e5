"""Apps and their allowlists: every egress address seen refreshing an app's tokens and which
are outside its allowlist. Whether the allowlist itself is one Salesforce takes: `allowlist`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import pandas as pd

from ingest.netlist import IpAllowlist

from . import rollups
from .filters import Filters


def egress_ips(con: duckdb.DuckDBPyConnection, filters: Filters | None) -> pd.DataFrame:
    """Per app and source address: refresh-token uses, failures, orgs, first and last seen.

    Read from the daily roll-up that detect keeps (whole UTC days, the windows the pages send);
    a store whose roll-up is missing or behind is scanned live, so the page is never wrong.
    """
    filters = filters or Filters()
    source_params: list[object] = []
    if rollups.egress_ready(con):
        source = f"{rollups.EGRESS} e"
        clauses, params = ["TRUE"], []
        if filters.start is not None:
            clauses.append("e.day >= ?::DATE")
            params.append(filters.start)
        if filters.end is not None:
            clauses.append("e.day <= ?::DATE")
            params.append(filters.end)
    else:
        live = ["TRUE"]
        if filters.start is not None:
            live.append("e.occurred_at >= ?")
            source_params.append(filters.start)
        if filters.end is not None:
            live.append("e.occurred_at <= ?")
            source_params.append(filters.end)
        source = f"({rollups.EGRESS_ROWS_SQL.format(days=' AND '.join(live))}) e"
        clauses, params = ["TRUE"], []
    if filters.org_ids:
        clauses.append("list_contains(?, e.org_id)")
        params.append(list(filters.org_ids))
    if filters.apps:
        clauses.append("list_contains(?, lower(e.app))")
        params.append([app.lower() for app in filters.apps])
    # Per org first, then per address: cheaper than count(DISTINCT org) over the rows.
    return con.execute(
        f"""WITH per_org AS (
                SELECT e.app, e.ip, e.org_id, sum(e.uses) AS uses, sum(e.failures) AS failures,
                       min(e.first_seen_at) AS first_seen, max(e.last_seen_at) AS last_seen
                FROM {source} WHERE {" AND ".join(clauses)} GROUP BY ALL)
            SELECT app, ip, sum(uses)::BIGINT AS uses, sum(failures)::BIGINT AS failures,
                   count(*) AS orgs, min(first_seen) AS first_seen, max(last_seen) AS last_seen
            FROM per_org GROUP BY ALL ORDER BY app, uses DESC, ip LIMIT 5000""",
        [*source_params, *params],
    ).df()


@dataclass(frozen=True)
class EgressJudge:
    """Whether an address is inside an app's allowlist or a recorded known egress."""

    allowlists: dict[str, IpAllowlist | None]  # lower-case app name -> allowlist
    known: list[tuple[str | None, IpAllowlist]]  # (lower-case app or None for any, network)

    @classmethod
    def build(
        cls,
        allowlists: dict[str, IpAllowlist | None],
        known_egress: Iterable[tuple[str | None, str]],
    ) -> EgressJudge:
        known = []
        for app, network in known_egress:
            try:
                known.append((app.lower() if app else None, IpAllowlist.parse([network])))
            except ValueError:
                continue  # validated on entry; an unreadable legacy row simply does not apply
        return cls({name.lower(): allow for name, allow in allowlists.items()}, known)

    def mark(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Add `allowlist` (configured / none), `inside_allowlist`, `known_egress`, `outside`."""
        apps = frame["app"].str.lower()
        configured = apps.map(lambda app: self.allowlists.get(app) is not None)
        inside = [
            (allow := self.allowlists.get(app)) is not None and ip in allow
            for app, ip in zip(apps, frame["ip"], strict=True)
        ]
        known = [
            any(scope in (None, app) and ip in net for scope, net in self.known)
            for app, ip in zip(apps, frame["ip"], strict=True)
        ]
        return frame.assign(
            allowlist=configured.map({True: "configured", False: "none"}),
            inside_allowlist=inside,
            known_egress=known,
            outside=[
                c and not i and not k for c, i, k in zip(configured, inside, known, strict=True)
            ],
        )
