"""The org's time zone: read by the `organization` source, served by `ingest.org_profile`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ingest import db
from ingest.config import IngestConfig
from ingest.load import Loader
from ingest.org_profile import time_zones
from ingest.source import FetchContext, RecordBatch
from ingest.sources import organization

ORG = "00D5g000004XyZaEAK"


class OnePageSession:
    """The one call the source makes: a SOQL query answered with Salesforce's record shape."""

    def __init__(self, zone: str) -> None:
        self.zone = zone
        self.queries: list[str] = []

    def query_pages(self, soql: str):
        self.queries.append(soql)
        yield [{"attributes": {"type": "Organization"}, "Id": ORG, "Name": "Acme",
                "TimeZoneSidKey": self.zone}]  # fmt: skip


def _read(con, zone: str, at: datetime) -> None:
    ctx = FetchContext(org_id=ORG, since=at, now=at, options=IngestConfig(), workdir=Path("."))
    [batch] = organization.fetch(OnePageSession(zone), ctx)  # type: ignore[arg-type]
    assert isinstance(batch, RecordBatch) and not batch.problems
    Loader(con, run_id=f"r{at:%d}", now=at).load_records(batch.records, origin="Organization")


def test_the_newest_time_zone_read_wins_and_unknown_orgs_are_absent():
    con = db.memory()
    _read(con, "America/Los_Angeles", datetime(2026, 11, 1))
    _read(con, "Europe/Paris", datetime(2026, 11, 2))
    assert time_zones(con) == {ORG: "Europe/Paris"}


def test_a_zone_that_is_not_an_iana_name_is_ignored():
    con = db.memory()
    _read(con, "Mars/Olympus_Mons'; DROP TABLE events; --", datetime(2026, 11, 1))
    assert time_zones(con) == {}
