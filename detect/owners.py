"""Who owns an address: its autonomous system, its cloud or hosting provider and where the
provider's block sits, whether it is a Tor exit.

Networks are judged by /24 (/48), but a /24 says nothing about its owner: a partner whose
workers have no NAT refreshes from a new AWS block every day, while a Hetzner server using the
same app is one more block. This module answers, once per distinct address, from offline data
installed with the package (nothing here touches the network):

- autonomous system (number, organisation): DB-IP's IP to ASN Lite (CC BY 4.0), or the user's
  own GeoLite2/GeoIP2 ASN (or ISP) database when `geoip.asn_db` is configured;
- provider and kind (hosting, cdn, vpn, tor, bot, unknown) and Tor exits: the iporigin
  dataset, compiled from the providers' own published feeds (AWS ip-ranges.json, Google
  Cloud, Azure service tags, DigitalOcean, Linode, Vultr, Oracle, ...) and CC0 community lists
  (Hetzner, OVHcloud, Scaleway, Tor exits, ...);
- region: where the provider's block sits (country and subdivision, e.g. `US-Virginia` for
  AWS us-east-1), from DB-IP's IP to City Lite (CC BY 4.0) or the user's `geoip.city_db`.
  The offline data carries no provider region names, so a region is a place, not a label.

`enrich` writes the `ip_owners` table (ip -> asn, as_org, provider, kind, region, is_tor,
data_version) for every address of `events` it has no row for under the current data, set-based
around one Python lookup per new address; `detect` runs it before the detectors.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import duckdb
import pyarrow as pa

from ingest import runs
from ingest.config import GeoIpConfig

from .owner_data import DBIP_ASN, Owner, OwnerData, Source, iporigin_version

__all__ = ["ATTRIBUTION", "Owner", "enrich", "owner_data", "owners_of", "run"]

UNIT_ID = "network_owners"
DBIP_LICENCE = "IP to ASN and IP to City Lite data by DB-IP (https://db-ip.com), CC BY 4.0"


@lru_cache(maxsize=4)
def owner_data(geoip: GeoIpConfig) -> OwnerData:
    return OwnerData(geoip)


def attribution() -> str:
    """The footer line the bundled data's licences ask for, with the data's dates."""
    asn = Source(None, DBIP_ASN).version.split()[-1]
    return (
        f"Network owners: {DBIP_LICENCE} (build {asn}); cloud, hosting and Tor ranges from "
        f"{iporigin_version()}, compiled from the providers' published feeds and CC0 lists. "
        "Your own GeoIP2/GeoLite2 databases replace DB-IP when configured ([geoip])."
    )


ATTRIBUTION = attribution()

PENDING_SQL = """
SELECT DISTINCT e.source_ip FROM events e
WHERE e.source_ip IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM ip_owners o WHERE o.ip = e.source_ip AND o.data_version = ?)
ORDER BY 1
"""
OWNER_SCHEMA = pa.schema(
    [("ip", pa.string()), ("asn", pa.int64()), ("as_org", pa.string()),
     ("provider", pa.string()), ("kind", pa.string()), ("region", pa.string()),
     ("is_tor", pa.bool_()), ("data_version", pa.string()), ("enriched_at", pa.timestamp("us"))]
)  # fmt: skip


@dataclass
class OwnersOutcome:
    status: str  # ok | failed
    enriched: int = 0  # addresses looked up in this run (new, or read from older data)
    seconds: float = 0.0
    error: str | None = None


def enrich(con: duckdb.DuckDBPyConnection, geoip: GeoIpConfig, *, now: datetime) -> int:
    """Look up every address of `events` without a row under the current data; return how
    many. One transaction: detectors never see half a pass."""
    data = owner_data(geoip)
    todo = [ip for (ip,) in con.execute(PENDING_SQL, [data.version]).fetchall()]
    if not todo:
        return 0
    owners = data.owners(todo)
    table = pa.table(
        {
            "ip": todo,
            "asn": [o.asn for o in owners],
            "as_org": [o.as_org for o in owners],
            "provider": [o.provider for o in owners],
            "kind": [o.kind for o in owners],
            "region": [o.region for o in owners],
            "is_tor": [o.is_tor for o in owners],
            "data_version": [data.version] * len(todo),
            "enriched_at": [now] * len(todo),
        },
        schema=OWNER_SCHEMA,
    )
    con.register("_owner_rows", table)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("INSERT OR REPLACE INTO ip_owners SELECT * FROM _owner_rows")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_owner_rows")
    return len(todo)


def run(
    con: duckdb.DuckDBPyConnection, geoip: GeoIpConfig, *, run_id: str, now: datetime
) -> OwnersOutcome:
    """The detect stage's step after app attribution, recorded as its own run row."""
    runs.start(con, run_id=run_id, stage="detect", unit_id=UNIT_ID, now=now)
    started = time.perf_counter()
    try:
        outcome = OwnersOutcome("ok", enrich(con, geoip, now=now))
    except Exception as exc:  # recorded and surfaced (exit 1); detectors still run
        detail = "".join(traceback.format_exception_only(exc)).strip()
        outcome = OwnersOutcome("failed", error=f"network owners: {detail}")
    outcome.seconds = time.perf_counter() - started
    runs.finish(
        con,
        run_id=run_id,
        stage="detect",
        unit_id=UNIT_ID,
        status=outcome.status,
        now=now,
        rows_read=outcome.enriched,
        rows_new=outcome.enriched,
        error=outcome.error,
        details={"seconds": round(outcome.seconds, 3)},
    )
    return outcome


OWNERS_SQL = """
SELECT ip, asn, as_org, provider, kind, region, is_tor FROM ip_owners
WHERE list_contains(?, ip) ORDER BY ip
"""


def owners_of(con: duckdb.DuckDBPyConnection, ips: list[str]) -> dict[str, dict[str, Any]]:
    """The stored owner of each of `ips` that has one, for evidence."""
    if not ips:
        return {}
    return {
        ip: asdict(Owner(asn, as_org, provider, kind, region, is_tor))
        for ip, asn, as_org, provider, kind, region, is_tor in con.execute(
            OWNERS_SQL, [list(ips)]
        ).fetchall()
    }
