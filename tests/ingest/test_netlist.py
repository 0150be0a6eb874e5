from __future__ import annotations

import pytest

from ingest.netlist import IpAllowlist, parse_ip

ALLOWLIST = IpAllowlist.parse(
    [
        "203.0.113.0/28",
        "198.51.100.7",
        "2001:db8:10::/48",
        "192.0.2.10-192.0.2.20",
        "2001:db8:99::1-2001:db8:99::ff",
    ]
)


@pytest.mark.parametrize(
    "ip",
    [
        "203.0.113.0",
        "203.0.113.15",
        "198.51.100.7",
        "2001:db8:10:ffff::1",
        "192.0.2.10",
        "192.0.2.20",
        "2001:db8:99::80",
        "::ffff:203.0.113.3",
    ],
)
def test_inside(ip):
    assert ip in ALLOWLIST


@pytest.mark.parametrize(
    "ip",
    [
        "203.0.113.16",
        "198.51.100.8",
        "2001:db8:11::1",
        "192.0.2.9",
        "192.0.2.21",
        "2001:db8:99::100",
        "Salesforce.com IP",
        "",
        "not-an-ip",
    ],
)
def test_outside(ip):
    assert ip not in ALLOWLIST


def test_address_count_merges_overlaps():
    assert IpAllowlist.parse(["10.0.0.0/30", "10.0.0.2-10.0.0.5"]).address_count == 6


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("192.0.2.20-192.0.2.10", "end address is before start"),
        ("192.0.2.1-2001:db8::1", "different IP versions"),
        ("300.1.1.1", "does not appear to be an IPv4 or IPv6"),
    ],
)
def test_bad_entries_name_their_position(entry, message):
    with pytest.raises(ValueError, match=rf"^\[1\]: .*{message}"):
        IpAllowlist.parse(["203.0.113.0/28", entry])


def test_parse_ip_unwraps_ipv4_mapped():
    assert str(parse_ip("::ffff:198.51.100.7")) == "198.51.100.7"
