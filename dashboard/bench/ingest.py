"""Ingest benchmark: N fake orgs × M LoginHistory rows through HTTPS and simple-salesforce.

The fake Salesforce runs in a child process, so the peak RSS reported is the ingest job's own.
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


def _serve(orgs: int, rows: int, public_pem: bytes, channel: Any, stop: Any) -> None:
    from sandbox.fakesf.server import FakeSalesforce

    fleet = [synthetic_org(i, rows, public_pem) for i in range(orgs)]
    with FakeSalesforce(fleet) as fake:
        channel.put((fake.url, fake.ca_path.read_bytes()))
        stop.wait()


def measure(orgs: int, rows: int) -> dict[str, Any]:
    keys: KeyPair = new_key_pair()
    context = multiprocessing.get_context("spawn")
    channel, stop = context.Queue(), context.Event()
    server = context.Process(target=_serve, args=(orgs, rows, keys.public_pem, channel, stop))
    server.start()
    try:
        url, ca = channel.get(timeout=600)
        with tempfile.TemporaryDirectory(prefix="tokensentry-bench-ingest-") as folder:
            root = Path(folder)
            (root / "ca.pem").write_bytes(ca)
            (root / "key.pem").write_bytes(keys.private_pem)
            blocks = [
                f'[orgs.bench-{i:02d}]\ninstance_url = "{url}"\nlogin_url = "{url}"\n'
                f'ca_bundle = "{root / "ca.pem"}"\nsources = ["login_history"]\n'
                f'auth = {{ method = "jwt", username = "{monitor_user(f"bench-{i:02d}")}", '
                f'consumer_key = "{INGEST_CONSUMER_KEY}", '
                f'private_key = {{ file = "{root / "key.pem"}" }} }}\n'
                for i in range(orgs)
            ]
            (root / "bench.toml").write_text("\n".join(blocks) + "\n[ingest]\nlookback_days = 90\n")
            config = config_module.load(root / "bench.toml", required=True)
            with db.connect(root / "bench.duckdb") as con:
                started = time.perf_counter()
                summary = ingestion.run(con, config, run_id="bench-ingest",
                                        now=lambda: START + timedelta(days=60))  # fmt: skip
                seconds = time.perf_counter() - started
            loaded = sum(u.result.rows_new for u in summary.units)
            return {
                "orgs": orgs,
                "rows_per_org": rows,
                "rows_loaded": loaded,
                "failed_units": sum(1 for u in summary.units if u.status != "ok"),
                "seconds": round(seconds, 2),
                "rows_per_s": round(loaded / seconds),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "workers": config.ingest.workers,
            }
    finally:
        stop.set()
        server.join(timeout=30)
