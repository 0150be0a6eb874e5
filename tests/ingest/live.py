"""Fixtures and helpers for the tests that run `ingest` against the fake Salesforce.

Each test module imports what it needs from here; one org per fake keeps each test short.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from ingest import config as config_module
from ingest import ingestion
from sandbox import trio
from sandbox.fakesf.fleet import KeyPair, config_text, demo_orgs, new_key_pair
from sandbox.fakesf.model import FakeOrg
from sandbox.fakesf.server import FakeSalesforce

NOW = datetime(2026, 11, 29, 12, 0)
FLEET = trio.build(now=NOW)
ACME, GLOBEX, INITECH = (org.org_id for org in trio.ORGS)
SETTINGS = "\n[ingest]\nretry_wait_s = 0.001\nlookback_days = 30\nwrite_batch = 200\n"


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    return new_key_pair()


def serve(keys: KeyPair, *org_ids: str, page_size: int = 200) -> FakeSalesforce:
    orgs = [org for org in demo_orgs(FLEET, keys) if org.org_id in org_ids]
    return FakeSalesforce(orgs, page_size=page_size)


def write_config(fake: FakeSalesforce, keys: KeyPair, folder: Path, extra: str = "") -> Path:
    key = folder / "ingest.pem"
    key.write_bytes(keys.private_pem)
    path = folder / "tokensentry.toml"
    path.write_text(
        config_text(fake.url, str(fake.ca_path), str(key), fake.orgs) + extra + SETTINGS
    )
    return path


@pytest.fixture
def initech(keys) -> Iterator[FakeSalesforce]:
    """One org without Event Monitoring: LoginHistory and OauthToken only."""
    with serve(keys, INITECH) as server:
        yield server


@pytest.fixture
def acme(keys) -> Iterator[FakeSalesforce]:
    """One org with Event Monitoring: log files (daily and hourly) and LoginEvent too."""
    with serve(keys, ACME) as server:
        yield server


def ingest(
    con,
    config_path: Path,
    run_id: str = "run-1",
    now: datetime = NOW,
    *,
    orgs: tuple[str, ...] = (),
) -> ingestion.IngestSummary:
    """`orgs`: the aliases to pull (all when empty)."""
    config = config_module.load(config_path, required=True)
    return ingestion.run(con, config, run_id=run_id, now=lambda: now, aliases=orgs)


def unit(summary: ingestion.IngestSummary, source: str) -> ingestion.UnitOutcome:
    return next(u for u in summary.units if u.source == source)


def count(con, sql: str, params: list | None = None) -> int:
    return con.execute(sql, params or []).fetchone()[0]


def usage_requests(fake: FakeSalesforce) -> list[str]:
    return [line for line in fake.request_log if "/apps/oauth/usage" in line]


def the_org(fake: FakeSalesforce) -> FakeOrg:
    return fake.orgs[0]
