"""The fake's per-response latency is real, and ingest's fetch workers overlap it.

Eight small orgs behind a fake that answers every call after 100 ms: one worker pays every
wait in turn; eight workers wait together, and every org's rows still arrive. The overlap is
counted where it happens (responses waiting in the fake at once), not read off two wall
clocks, which a loaded machine bends either way.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ingest import config as config_module
from ingest import db, ingestion
from sandbox.bulk import START, synthetic_org
from sandbox.fakesf.fleet import KeyPair, connection, new_key_pair
from sandbox.fakesf.latency import Latency
from sandbox.fakesf.server import FakeSalesforce

ORGS = 8
LOGINS = 40
LATENCY_MS = 100.0


@dataclass(frozen=True)
class CountedLatency(Latency):
    """The fake's latency, counting how many responses wait at once (the most, in `peak`)."""

    state: dict[str, int] = field(default_factory=lambda: {"waiting": 0, "peak": 0})
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self) -> None:
        with self.lock:
            self.state["waiting"] += 1
            self.state["peak"] = max(self.state["peak"], self.state["waiting"])
        try:
            super().wait()
        finally:
            with self.lock:
                self.state["waiting"] -= 1


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    return new_key_pair()


def _ingest(keys: KeyPair, folder: Path, workers: int) -> tuple[float, dict[str, int], int, int]:
    """Ingest the orgs behind a slow fake; (seconds, LoginHistory rows per org, requests, the
    most responses waiting at once)."""
    fleet = [synthetic_org(i, LOGINS, keys.public_pem) for i in range(ORGS)]
    key = folder / "ingest.pem"
    key.write_bytes(keys.private_pem)
    latency = CountedLatency(LATENCY_MS)
    with FakeSalesforce(fleet, latency=latency) as fake:
        blocks = [
            connection(o.alias, o.org_id, "subscriber", ["login_history"], fake.url,
                       str(fake.ca_path), str(key))
            for o in fleet
        ]  # fmt: skip
        path = folder / f"workers-{workers}.toml"
        path.write_text(
            "\n".join(blocks) + f"\n[ingest]\nworkers = {workers}\nlookback_days = 90\n"
        )
        config = config_module.load(path, required=True)
        with db.connect(folder / f"workers-{workers}.duckdb") as con:
            started = time.perf_counter()
            summary = ingestion.run(con, config, run_id=f"w{workers}", now=lambda: START)
            seconds = time.perf_counter() - started
            rows = dict(
                con.execute(
                    "SELECT org_id, count(*) FROM raw_records "
                    "WHERE source_id = 'soql:LoginHistory' GROUP BY 1"
                ).fetchall()
            )
        requests = len(fake.request_log)
    assert [u.status for u in summary.units] == ["ok"] * ORGS, [u.error for u in summary.units]
    return seconds, rows, requests, latency.state["peak"]


def test_workers_overlap_the_fakes_latency_and_every_org_arrives(keys, tmp_path):
    serial, serial_rows, requests, serial_peak = _ingest(keys, tmp_path, workers=1)
    _, parallel_rows, _, parallel_peak = _ingest(keys, tmp_path, workers=ORGS)
    expected = {o.org_id: LOGINS for o in (synthetic_org(i, 1, b"") for i in range(ORGS))}
    assert serial_rows == expected and parallel_rows == expected
    # The latency is real: one worker waits for every response in turn.
    assert requests >= ORGS * 3  # the token, /limits and the query, at least, per org
    assert serial >= requests * LATENCY_MS / 1000
    assert serial_peak == 1
    # Eight workers wait together: at the start every org's token call is in flight at once.
    assert parallel_peak >= ORGS // 2, parallel_peak
