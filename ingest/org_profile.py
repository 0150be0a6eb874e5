"""What the store knows about each org itself: its time zone (Organization.TimeZoneSidKey).

Read by detectors that need the org's local hours. An org never read through the API (an
import-only org) has no Organization row and is UTC; so is an org whose stored zone is not a
known IANA name (a string from Salesforce is never trusted into SQL unchecked).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb

ZONES_SQL = """
SELECT org_id, arg_max(json_extract_string(payload, '$.TimeZoneSidKey'),
                       coalesce(occurred_at, fetched_at)) AS zone
FROM raw_records WHERE source_id = 'soql:Organization'
GROUP BY org_id
"""


def time_zones(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """org id → IANA time zone name, for the orgs whose time zone Salesforce told us."""
    zones = {}
    for org_id, zone in con.execute(ZONES_SQL).fetchall():
        try:
            ZoneInfo(zone or "")
        except (ZoneInfoNotFoundError, ValueError):
            continue
        zones[org_id] = zone
    return zones
