"""Known egress an analyst records: "this address is the partner's own", for a limited time.

Recorded instead of triaging the same off-allowlist address every day; detectors and incident
linking honour an entry until it expires or is removed (detect/egress.py reads this table).
Rows are never deleted: removal records who and when, so the decision stays auditable.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import duckdb
import pandas as pd

from ingest.errors import InputError
from ingest.netlist import IpAllowlist


def known_egress(
    con: duckdb.DuckDBPyConnection, now: datetime, *, include_inactive: bool = False
) -> pd.DataFrame:
    """Entries with their state at `now` (active | expired | removed), newest first."""
    return con.execute(
        """SELECT egress_id, network, app_name AS app, note, added_by, added_at, expires_at,
                  removed_by, removed_at,
                  CASE WHEN removed_at IS NOT NULL THEN 'removed'
                       WHEN expires_at <= ? THEN 'expired' ELSE 'active' END AS state
           FROM known_egress
           WHERE ? OR (removed_at IS NULL AND expires_at > ?)
           ORDER BY added_at DESC, egress_id""",
        [now, include_inactive, now],
    ).df()


def add_known_egress(
    con: duckdb.DuckDBPyConnection,
    network: str,
    *,
    expires_at: datetime,
    analyst: str,
    now: datetime,
    app_name: str | None = None,
    note: str | None = None,
) -> str:
    """Record `network` (address, CIDR or start-end) as known egress; return its id."""
    network = network.strip()
    try:
        IpAllowlist.parse([network])
    except ValueError as exc:
        raise InputError(f"{network!r} is not an address, CIDR or start-end range: {exc}") from None
    if expires_at <= now:
        raise InputError("the expiry must be in the future")
    if not analyst or not analyst.strip():
        raise InputError("recording known egress needs the analyst's name")
    app = app_name.strip() if app_name and app_name.strip() else None
    egress_id = hashlib.md5(f"{network}|{app}|{now.isoformat()}".encode()).hexdigest()[:16]
    con.execute(
        "INSERT INTO known_egress VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
        [egress_id, network, app, note, analyst.strip(), now, expires_at],
    )
    return egress_id


def remove_known_egress(
    con: duckdb.DuckDBPyConnection, egress_id: str, *, analyst: str, now: datetime
) -> bool:
    """Stop honouring an entry (kept, marked removed); False when no active entry has this id."""
    row = con.execute(
        """UPDATE known_egress SET removed_by = ?, removed_at = ?
           WHERE egress_id = ? AND removed_at IS NULL RETURNING egress_id""",
        [analyst, now, egress_id],
    ).fetchone()
    return row is not None
