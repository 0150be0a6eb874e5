"""Network owners (detect/owners.py) on the real bundled data, and networks judged by owner.

The no-NAT partner: one app without an allowlist whose workers refresh from a new AWS us-east-1
block every day in three orgs. Judged by block it would raise `new_network` per org per day and
a `cross_org` every day; judged by owner, nothing at medium, while the same app from Hetzner,
DigitalOcean or a home line still raises `new_network` at medium.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from dashboard import queries
from detect import egress, incidents, owner_data, owners, runner
from detect.detectors.cross_org import ORGS3
from detect.detectors.cross_org import _rotating as rotating_in
from detect.detectors.new_network import NO_ALLOWLIST, NO_NAT
from detect.testing import ORG, config, insert_events, refresh
from ingest import db
from ingest.config import Config, GeoIpConfig

from ..conftest import SHARED

NOW = datetime(2026, 5, 1)
SHARED_MAXMIND = SHARED / "data" / "realworld" / "maxmind"


def _owner(con, ip: str) -> dict:
    return owners.owners_of(con, [ip])[ip]


def test_every_address_gets_its_owner_from_the_bundled_data():
    con = db.memory()
    addresses = {
        "3.81.4.10": ("Amazon AWS", "hosting", "US-Virginia", 14618),  # us-east-1 EC2
        "34.240.7.20": ("Amazon AWS", "hosting", "IE-Leinster", 16509),  # eu-west-1
        "95.216.14.20": ("Hetzner", "hosting", "FI-Uusimaa", 24940),
        "208.68.36.90": ("DigitalOcean", "hosting", "US-New Jersey", 14061),  # UNC6395's VPS
        "73.162.11.20": (None, "unknown", None, 7922),  # Comcast: a home line
    }
    insert_events(con, [refresh("2026-04-01T01:00:00", ip) for ip in addresses])
    for ip, (provider, kind, region, asn) in addresses.items():
        got = _owner(con, ip)
        assert (got["provider"], got["kind"], got["region"], got["asn"]) == (
            provider, kind, region, asn), ip  # fmt: skip
        assert got["is_tor"] is False
    insert_events(con, [refresh("2026-04-01T02:00:00", "185.220.101.33"),
                        refresh("2026-04-01T02:00:00", "203.0.113.4"),
                        refresh("2026-04-01T02:00:00", "Salesforce.com IP")])  # fmt: skip
    tor = _owner(con, "185.220.101.33")
    assert tor["is_tor"] and tor["kind"] == "tor" and tor["asn"] == 60729
    assert _owner(con, "203.0.113.4")["kind"] == "reserved"
    assert _owner(con, "Salesforce.com IP")["kind"] == "invalid"
    version = con.execute("SELECT DISTINCT data_version FROM ip_owners").fetchall()
    assert [v for (v,) in version] == [owners.owner_data(GeoIpConfig()).version]
    assert "DBIP-ASN-Lite 2026-09-01" in version[0][0] and "iporigin 1.1.2" in version[0][0]


def test_enrichment_is_once_per_address_and_again_when_the_data_changes():
    con = db.memory()
    insert_events(con, [refresh(f"2026-04-01T0{h}:00:00", "3.81.4.10") for h in range(5)])
    geoip = GeoIpConfig()
    assert owners.enrich(con, geoip, now=NOW) == 0  # insert_events enriched it, once
    con.execute("UPDATE ip_owners SET data_version = 'an older build'")
    assert owners.enrich(con, geoip, now=NOW) == 1
    assert con.execute("SELECT count(*) FROM ip_owners").fetchone() == (1,)


@pytest.mark.skipif(not SHARED_MAXMIND.is_dir(), reason="../shared (MaxMind test databases) absent")
def test_a_configured_asn_database_answers_instead_of_db_ip():
    con = db.memory()
    insert_events(con, [refresh("2026-04-01T01:00:00", "1.128.0.1")])  # in MaxMind's test data
    geoip = GeoIpConfig(asn_db=SHARED_MAXMIND / "GeoLite2-ASN-Test.mmdb")
    assert owners.enrich(con, geoip, now=NOW) == 1
    got = _owner(con, "1.128.0.1")
    assert (got["asn"], got["as_org"]) == (1221, "Telstra Pty Ltd")
    stored = con.execute("SELECT data_version FROM ip_owners").fetchone()[0]  # type: ignore[index]
    assert stored.startswith("GeoLite2-ASN ") and "GeoLite2-ASN-Test.mmdb" in stored


def _judged(events: list[dict], cfg: Config) -> list[tuple[str, str, str]]:
    con = db.memory()
    insert_events(con, events)
    runner.run(con, cfg, run_id="r", now=lambda: NOW)
    return con.execute(
        "SELECT detector_id, severity, summary FROM alerts ORDER BY first_seen_at"
    ).fetchall()


def _loud(alerts: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return [a for a in alerts if a[1] in ("medium", "high", "critical")]


def test_the_no_nat_rotation_is_quiet_in_every_org_but_would_not_be_by_block():
    rotation = rotating_in(ORGS3, 28)
    assert _loud(_judged(rotation, config(NO_ALLOWLIST))) == []
    by_block = config(NO_ALLOWLIST)
    by_block.detectors["new_network"] = {"rotation_blocks": 1000}  # owner-blind, as before
    loud = _loud(_judged(rotation, by_block))
    assert {d for d, *_ in loud} == {"new_network", "cross_org"}
    assert sum(d == "new_network" for d, *_ in loud) == 3 * 14  # a block per org per day


@pytest.mark.parametrize(
    ("ip", "what"),
    [("95.216.14.20", "Hetzner"), ("208.68.36.93", "DigitalOcean"), ("73.162.11.20", "Comcast"),
     ("54.255.1.9", "Amazon AWS SG-")],
)  # fmt: skip
def test_the_rotating_app_elsewhere_raises_new_network_at_medium(ip, what):
    events = [*rotating_in([ORG], 20), refresh("2026-04-21T05:00:00", ip, app_name=NO_NAT)]
    alerts = _loud(_judged(events, config(NO_ALLOWLIST)))
    assert [(d, s) for d, s, _ in alerts] == [("new_network", "medium")]
    assert what in alerts[0][2] and ip in alerts[0][2]


def test_a_thief_renting_in_the_region_is_still_seen_by_the_other_detectors():
    thief = "54.87.201.9"  # a fresh EC2 instance in us-east-1, the Drift fetcher's agent
    events = [*rotating_in([ORG], 20),
              refresh("2026-04-21T05:00:00", thief, app_name=NO_NAT,
                      user_agent="Salesforce-Multi-Org-Fetcher/1.0")]  # fmt: skip
    alerts = _judged(events, config(NO_ALLOWLIST))
    assert ("suspicious_client", "critical") in [(d, s) for d, s, _ in alerts]
    assert "new_network" not in [d for d, *_ in alerts]  # the region is the app's routine
    # ...and the address is no partner infrastructure: it links an incident like any other.
    cfg = config(NO_ALLOWLIST)
    assert incidents._links(thief, egress.infrastructure(cfg, egress.KnownEgress()))


def test_alert_evidence_and_the_dashboard_query_show_the_owner():
    con = db.memory()
    events = [*rotating_in([ORG], 20), refresh("2026-04-21T05:00:00", "95.216.14.20",
                                               app_name=NO_NAT)]  # fmt: skip
    insert_events(con, events)
    runner.run(con, config(NO_ALLOWLIST), run_id="r", now=lambda: NOW)
    [(evidence,)] = con.execute(
        "SELECT evidence FROM alerts WHERE detector_id = 'new_network'"
    ).fetchall()
    owner = json.loads(evidence)["ip_owners"]["95.216.14.20"]
    assert (owner["asn"], owner["provider"], owner["kind"]) == (24940, "Hetzner", "hosting")
    frame = queries.ip_owners(con, ["95.216.14.20", "192.0.2.250"])
    assert list(frame["owner"]) == [
        "(no owner data yet)",
        "AS24940 Hetzner Online GmbH · Hetzner FI-Uusimaa (hosting)",
    ]


def test_the_footer_attribution_names_the_data_its_date_and_licence():
    assert "DB-IP" in owners.ATTRIBUTION and "CC BY 4.0" in owners.ATTRIBUTION
    assert "2026-09-01" in owners.ATTRIBUTION and "iporigin 1.1.2" in owners.ATTRIBUTION


def test_a_database_unpacked_whole_answers_as_the_lazy_reader_does():
    """Past WHOLE_AFTER addresses a pass reads the bundled DB-IP data unpacked in memory with
    maxminddb's C reader: the same answers, faster."""
    sample = ["3.81.4.10", "95.216.14.20", "73.162.11.20", "2a05:d018::1", "1.1.1.1"]
    lazy = owner_data.open_bundled(owner_data.DBIP_CITY, whole=False)
    whole = owner_data.open_bundled(owner_data.DBIP_CITY, whole=True)
    assert [whole.get(ip) for ip in sample] == [lazy.get(ip) for ip in sample]
    assert whole.metadata().build_epoch == lazy.metadata().build_epoch
    many = [f"3.81.{n // 250}.{n % 250}" for n in range(owner_data.WHOLE_AFTER + 1)]
    source = owner_data.Source(None, owner_data.DBIP_ASN)
    assert {asn for asn, _ in source.asns(many)} == {14618}
    assert True in source._readers  # the pass unpacked it
