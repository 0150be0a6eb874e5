"""Whether an app's allowlist is one Salesforce would take, entry by entry.

Salesforce's Refresh Token IP Allowlist (SALESFORCE.md §8.2, help article "Set IP Allowlist
Ranges for Refresh Tokens") is a list of start/end address pairs, IPv4 or IPv6, the end "the
same or higher" than the start: up to 128 ranges and no more than 256 addresses in total, IPv6
counted like IPv4. A CIDR or a single address in our configuration is one such range.

So an entry is refused when it cannot be typed as a range (unreadable, start and end of
different families, end before start), when it alone holds more than 256 addresses (an IPv6
/64 is 2^64 of them), or when, in the order given, it would pass the cap of 128 ranges or 256
addresses. A private, loopback, link-local or reserved range is not refused by the help page,
but the token endpoint only ever sees public addresses, so it could never match: it is flagged
too, as such.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

MAX_RANGES = 128
MAX_ADDRESSES = 256
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NOT_PUBLIC = [
    (ipaddress.ip_network(network), label)
    for network, label in (
        ("10.0.0.0/8", "private"),
        ("172.16.0.0/12", "private"),
        ("192.168.0.0/16", "private"),
        ("100.64.0.0/10", "carrier-grade NAT"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("0.0.0.0/8", "unspecified"),
        ("224.0.0.0/3", "multicast and reserved"),
        ("fc00::/7", "private (unique local)"),
        ("fe80::/10", "link-local"),
        ("::1/128", "loopback"),
        ("::/128", "unspecified"),
        ("ff00::/8", "multicast"),
    )
]


@dataclass(frozen=True)
class Entry:
    """One allowlist entry as Salesforce would see it."""

    entry: str
    family: str  # IPv4 | IPv6 | mixed | ? (unreadable)
    start: str
    end: str
    addresses: int
    refused: str | None  # why Salesforce would refuse it, else None
    never_matches: str | None = None  # taken, but no refresh could ever come from there

    @property
    def verdict(self) -> str:
        if self.refused:
            return f"refused: {self.refused}"
        if self.never_matches:
            return f"taken, but {self.never_matches}"
        return "taken"


def _range(text: str) -> tuple[IPAddress, IPAddress]:
    if "-" in text:
        start, end = (ipaddress.ip_address(part.strip()) for part in text.split("-", 1))
        return start, end
    if "/" in text:
        network = ipaddress.ip_network(text, strict=False)
        return network.network_address, network.broadcast_address
    address = ipaddress.ip_address(text)
    return address, address


def _not_public(start: IPAddress, end: IPAddress) -> str | None:
    """The non-public space the range touches, named. Documentation ranges (RFC 5737, 3849)
    are not in the list: the simulated worlds and the tests use them as public addresses."""
    for network, label in NOT_PUBLIC:
        if network.version == start.version and (
            int(start) <= int(network.broadcast_address) and int(end) >= int(network[0])
        ):
            return (
                f"it reaches {label} space ({network}): the token endpoint only sees public "
                "addresses, so that part could never match"
            )
    return None


def allowlist_entries(entries: Iterable[str]) -> list[Entry]:
    """Each entry in order, with its size and what Salesforce would make of it."""
    judged: list[Entry] = []
    ranges, total = 0, 0  # what Salesforce has taken so far
    for raw in entries:
        text = str(raw).strip()
        try:
            start, end = _range(text)
        except ValueError:
            judged.append(Entry(text, "?", "", "", 0, "not an address, CIDR or start-end range"))
            continue
        if start.version != end.version:
            refused = (
                f"start is IPv{start.version} and end IPv{end.version}; a range stays in one family"
            )
            judged.append(Entry(text, "mixed", str(start), str(end), 0, refused))
            continue
        family = f"IPv{start.version}"
        size = int(end) - int(start) + 1
        if size < 1:
            judged.append(Entry(text, family, str(start), str(end), 0, "end is before start"))
            continue
        if size > MAX_ADDRESSES:
            refused = (
                f"too wide: {count_text(size)} addresses in one range, and Salesforce takes "
                f"{MAX_ADDRESSES} in all, IPv6 included"
            )
        elif ranges + 1 > MAX_RANGES:
            refused = f"over the cap: the entries before it already hold {MAX_RANGES} ranges"
        elif total + size > MAX_ADDRESSES:
            refused = (
                f"over the cap: with the {total} addresses before it the list would hold "
                f"{total + size}, more than {MAX_ADDRESSES}"
            )
        else:
            refused = None
            ranges, total = ranges + 1, total + size
        judged.append(
            Entry(text, family, str(start), str(end), size, refused, _not_public(start, end))
        )
    return judged


def count_text(size: int) -> str:
    """A count of addresses in words a reader can take in: 2^64 rather than 20 digits."""
    return f"{size:,}" if size < 10**12 else f"2^{size.bit_length() - 1}"


def allowlist_fit(entries: Iterable[str]) -> dict[str, object]:
    """The list as a whole: ranges, addresses (IPv4 and IPv6 together), whether Salesforce
    would take it, the problems in words, and the per-entry table (`entries`)."""
    judged = allowlist_entries(entries)
    addresses = sum(entry.addresses for entry in judged)
    problems = []
    if len(judged) > MAX_RANGES:
        problems.append(f"{len(judged)} ranges (Salesforce takes at most {MAX_RANGES})")
    if addresses > MAX_ADDRESSES:
        problems.append(
            f"{count_text(addresses)} addresses (Salesforce takes at most {MAX_ADDRESSES})"
        )
    problems += [f"{entry.entry}: {entry.refused}" for entry in judged if entry.refused]
    warnings = [f"{e.entry}: {e.never_matches}" for e in judged if e.never_matches]
    return {
        "ranges": len(judged),
        "addresses": addresses,
        "fits": not problems,
        "problems": problems,
        "warnings": warnings,
        "entries": pd.DataFrame(
            {
                "entry": [e.entry for e in judged],
                "family": [e.family for e in judged],
                "start": [e.start for e in judged],
                "end": [e.end for e in judged],
                "addresses": [count_text(e.addresses) for e in judged],
                "salesforce": [e.verdict for e in judged],
            }
        ),
    }
