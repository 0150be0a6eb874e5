"""IP allowlists in the three forms Salesforce admins write: CIDR, a single address, start-end.

Salesforce's Refresh Token IP Allowlist stores start/end ranges (up to 128 ranges, 256
addresses); partners usually keep CIDRs. Both become sorted integer intervals per IP version,
so a lookup is one bisect. DuckDB's `inet` extension is not used: it downloads on first use,
which fails on an offline machine.
"""

from __future__ import annotations

import bisect
import ipaddress
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip(text: str) -> IPAddress | None:
    """The address in `text`, or None when it is not an IP (e.g. "Salesforce.com IP")."""
    try:
        address = ipaddress.ip_address(text.strip())
    except (ValueError, AttributeError):
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _parse_entry(entry: str) -> tuple[int, int, int]:
    text = entry.strip()
    if "-" in text:
        start_text, end_text = (part.strip() for part in text.split("-", 1))
        start, end = ipaddress.ip_address(start_text), ipaddress.ip_address(end_text)
        if start.version != end.version:
            raise ValueError(f"{entry!r}: start and end are different IP versions")
        if int(end) < int(start):
            raise ValueError(f"{entry!r}: end address is before start address")
        return start.version, int(start), int(end)
    if "/" in text:
        network = ipaddress.ip_network(text, strict=False)
        return network.version, int(network.network_address), int(network.broadcast_address)
    address = ipaddress.ip_address(text)
    return address.version, int(address), int(address)


@dataclass(frozen=True)
class IpAllowlist:
    entries: tuple[str, ...]
    _starts: dict[int, list[int]] = field(default_factory=dict, repr=False, compare=False)
    _ends: dict[int, list[int]] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def parse(cls, entries: list[str] | tuple[str, ...]) -> IpAllowlist:
        """Parse every entry; ValueError names the first bad one by its position."""
        intervals: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        for index, entry in enumerate(entries):
            if not isinstance(entry, str):
                raise ValueError(f"[{index}]: {entry!r} is not a string")
            try:
                version, start, end = _parse_entry(entry)
            except ValueError as exc:
                raise ValueError(f"[{index}]: {exc}") from None
            intervals[version].append((start, end))
        allowlist = cls(tuple(entries))
        for version, spans in intervals.items():
            merged: list[tuple[int, int]] = []
            for start, end in sorted(spans):
                if merged and start <= merged[-1][1] + 1:
                    merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
                else:
                    merged.append((start, end))
            allowlist._starts[version] = [start for start, _ in merged]
            allowlist._ends[version] = [end for _, end in merged]
        return allowlist

    def __contains__(self, ip: object) -> bool:
        address = parse_ip(ip) if isinstance(ip, str) else ip
        if not isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return False
        starts = self._starts.get(address.version, [])
        position = bisect.bisect_right(starts, int(address)) - 1
        return position >= 0 and int(address) <= self._ends[address.version][position]

    @property
    def address_count(self) -> int:
        return sum(
            end - start + 1
            for version in self._starts
            for start, end in zip(self._starts[version], self._ends[version], strict=True)
        )
