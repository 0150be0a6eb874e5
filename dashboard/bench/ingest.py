"""Ingest benchmark: N fake orgs through HTTPS and simple-salesforce, the fake in its own process.

The fake Salesforce runs in a spawned child, so the CPU seconds and peak RSS reported are the
ingest job's own (RUSAGE_SELF leaves children out) and the fake's CPU is reported apart. Two
kinds of org: `bulk` (M LoginHistory rows, the LoginHistory source only: rows per second) and
`small` (sandbox.small_orgs: every default source of a small subscriber org: orgs per hour).
With `latency` the fake answers each call after a sleep, as a real org would.
"""

from __future__ import annotations

import multiprocessing
import resource
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from ingest import config as config_module
from ingest import db, ingestion
from sandbox.bulk import START, synthetic_org
from sandbox.fakesf.fleet import INGEST_CONSUMER_KEY, KeyPair, monitor_user, new_key_pair
from sandbox.fakesf.latency import Latency

KINDS = ("bulk", "small")


def _serve(
    orgs: int, rows: int, kind: str, latency: Latency, public_pem: bytes, channel: Any, stop: Any
) -> None:
    from sandbox.fakesf.server import FakeSalesforce
    from sandbox.small_orgs import small_org

    build = small_org if kind == "small" else synthetic_org
    fleet = [build(i, rows, public_pem) for i in range(orgs)]
    with FakeSalesforce(fleet, latency=latency) as fake:
        before = resource.getrusage(resource.RUSAGE_SELF)
        channel.put((fake.url, fake.ca_path.read_bytes()))
        stop.wait()
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        channel.put({"requests": len(fake.request_log), "cpu_seconds": round(cpu, 2)})


def _config(root: Path, url: str, orgs: int, kind: str, workers: int | None) -> Path:
    sources = 'sources = ["login_history"]\n' if kind == "bulk" else ""  # small: the defaults
    blocks = [
        f'[orgs.bench-{i:02d}]\ninstance_url = "{url}"\nlogin_url = "{url}"\n'
        f'ca_bundle = "{root / "ca.pem"}"\n{sources}'
        f'auth = {{ method = "jwt", username = "{monitor_user(f"bench-{i:02d}")}", '
        f'consumer_key = "{INGEST_CONSUMER_KEY}", '
        f'private_key = {{ file = "{root / "key.pem"}" }} }}\n'
        for i in range(orgs)
    ]
    tuning = "[ingest]\nlookback_days = 90\n" + (f"workers = {workers}\n" if workers else "")
    path = root / "bench.toml"
    path.write_text("\n".join(blocks) + "\n" + tuning)
    return path


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(
    orgs: int,
    rows: int,
    *,
    kind: str = "bulk",
    workers: int | None = None,
    latency: Latency | None = None,
) -> dict[str, Any]:
    """Ingest `orgs` fake orgs of `kind` with `rows` LoginHistory rows each; the figures."""
    latency = latency or Latency()
    keys: KeyPair = new_key_pair()
    context = multiprocessing.get_context("spawn")
    channel, stop = context.Queue(), context.Event()
    server = context.Process(
        target=_serve, args=(orgs, rows, kind, latency, keys.public_pem, channel, stop)
    )
    server.start()
    fake: dict[str, Any] = {}
    try:
        url, ca = channel.get(timeout=1200)
        with tempfile.TemporaryDirectory(prefix="tokensentry-bench-ingest-") as folder:
            root = Path(folder)
            (root / "ca.pem").write_bytes(ca)
            (root / "key.pem").write_bytes(keys.private_pem)
            config = config_module.load(_config(root, url, orgs, kind, workers), required=True)
            with db.connect(root / "bench.duckdb") as con:
                cpu, writer_cpu = _cpu_seconds(), time.thread_time()
                started = time.perf_counter()
                summary = ingestion.run(con, config, run_id="bench-ingest",
                                        now=lambda: START + timedelta(days=60))  # fmt: skip
                seconds = time.perf_counter() - started
                cpu, writer_cpu = _cpu_seconds() - cpu, time.thread_time() - writer_cpu
        stop.set()
        fake = channel.get(timeout=60)
    finally:
        stop.set()
        server.join(timeout=30)
    loaded = sum(u.result.rows_new for u in summary.units)
    statuses: dict[str, int] = {}
    for unit in summary.units:
        statuses[unit.status] = statuses.get(unit.status, 0) + 1
    return {
        "kind": kind,
        "orgs": orgs,
        "rows_per_org": rows,
        "workers": config.ingest.workers,
        "latency_ms": latency.ms,
        "jitter_ms": latency.jitter_ms,
        "rows_loaded": loaded,
        "failed_units": sum(1 for u in summary.units if u.status in ingestion.FAILED),
        "unit_statuses": statuses,
        "seconds": round(seconds, 2),
        "orgs_per_hour": round(orgs * 3600 / seconds),
        "rows_per_s": round(loaded / seconds),
        "cpu_seconds": round(cpu, 2),
        "cpu_per_wall": round(cpu / seconds, 2),  # 1.0: one core busy all along
        "writer_busy_per_wall": round(summary.writer_seconds / seconds, 2),
        "writer_cpu_seconds": round(writer_cpu, 2),  # the writer (this) thread's own CPU
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "fake_requests": fake.get("requests"),
        "fake_cpu_seconds": fake.get("cpu_seconds"),
    }
