"""Who owns the addresses an alert or incident cites: one row per address from `ip_owners`
(written by `detect`, see detect/owners.py), with the one-line label every surface shows."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pandas as pd

from detect.owners import Owner

OWNER_COLUMNS = ["ip", "owner", "asn", "as_org", "provider", "kind", "region", "is_tor"]
OWNERS_SQL = """
SELECT i.ip, o.asn, o.as_org, o.provider, o.kind, o.region, o.is_tor, o.data_version
FROM unnest(CAST(? AS VARCHAR[])) AS i(ip) LEFT JOIN ip_owners o USING (ip)
ORDER BY i.ip
"""


def ip_owners(con: duckdb.DuckDBPyConnection, ips: Sequence[str]) -> pd.DataFrame:
    """The owner of each of `ips` (an address `detect` has not seen yet: no owner data)."""
    frame = con.execute(OWNERS_SQL, [list(dict.fromkeys(ips))]).df()
    frame["owner"] = [
        Owner(
            None if pd.isna(r.asn) else int(r.asn), r.as_org, r.provider, r.kind, r.region,
            bool(r.is_tor),
        ).label()
        if isinstance(r.kind, str)
        else "(no owner data yet)"
        for r in frame.itertuples()
    ]  # fmt: skip
    return frame[[*OWNER_COLUMNS, "data_version"]]
