"""`tokensentry bench`: throughput and peak memory of import and detection (CONTRACT §6).

Import is measured on a generated Login EventLogFile CSV of N rows, next to DuckDB's bare
`read_csv` of the same file into a table (every column, as text: the work any lossless import
must at least do). Detection is measured on N generated normalized events of a realistic mix
(integration refreshes from allowlisted egress, people's logins, a sprinkle of off-allowlist
use), because the Login ELF alone names no app. Speed is a benchmark figure, never a test.
"""

from __future__ import annotations

import os
import platform
import resource
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from detect import runner
from ingest import db
from ingest.config import AppConfig, Config
from ingest.importer import import_paths
from ingest.netlist import IpAllowlist
from ingest.timeparse import now_utc
from sandbox import bulk
from sandbox.fakesf.latency import Latency

from .. import console as output
from . import analyst
from .ingest_scale import ScaleOptions
from .reuse import prepared_store


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(
    events: int,
    workdir: Path,
    stages: tuple[str, ...] = ("import", "detect"),
    dashboard_size: tuple[int, int] = (10_000_000, 100_000),
    keep: bool = False,
    render_runs: int = 3,
    query_runs: int = 10,
) -> dict[str, Any]:
    figures: dict[str, Any] = {"events": events}
    if "import" in stages:
        figures.update(measure_import(events, workdir))
        figures.update(analyst.measure(events, workdir, keep, bulk.ALLOWLIST))
    if "detect" in stages:
        figures.update(measure_detect(events, workdir, keep))
    if "dashboard" in stages:
        from .dashboard import measure_dashboard

        figures["dashboard"] = measure_dashboard(
            workdir, *dashboard_size, keep=keep, render_runs=render_runs, query_runs=query_runs
        )
    figures["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    figures["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
    }
    return figures


def measure_import(events: int, workdir: Path) -> dict[str, Any]:
    elf = bulk.write_login_elf(workdir / "bench-Login.csv", events)
    size_mb = elf.stat().st_size / 2**20

    bare_db = workdir / "bare.duckdb"
    with duckdb.connect(str(bare_db)) as con:
        started = time.perf_counter()
        con.execute(f"CREATE TABLE bare AS SELECT * FROM read_csv('{elf}', all_varchar = true)")
        read_csv_seconds = time.perf_counter() - started
    bare_db.unlink()

    store = workdir / "bench.duckdb"
    with db.connect(store) as con:
        started = time.perf_counter()
        summary = import_paths(con, [elf], org_id=None, run_id="bench-import", now=now_utc)
        import_seconds = time.perf_counter() - started
        imported_events = con.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
    totals = summary.totals
    (workdir / "bench.duckdb").unlink(missing_ok=True)
    elf.unlink(missing_ok=True)
    return {
        "elf_file_mb": round(size_mb, 1),
        "read_csv_seconds": round(read_csv_seconds, 3),
        "read_csv_rows_per_s": round(events / read_csv_seconds),
        "import_seconds": round(import_seconds, 3),
        "import_rows_per_s": round(totals.rows_read / import_seconds),
        "import_vs_read_csv": round(read_csv_seconds / import_seconds, 3),
        "import_rows_quarantined": totals.rows_quarantined,
        "import_events": imported_events,
        "import_peak_rss_mb": round(_peak_rss_mb(), 1),
    }


DETECT_MEMORY_LIMIT = "3GB"  # the detection budget is 4 GB of RSS for the whole process


def measure_detect(events: int, workdir: Path, keep: bool = False) -> dict[str, Any]:
    config = Config(
        path=None,
        apps={"Acme Sync": AppConfig("Acme Sync", None, IpAllowlist.parse(bulk.ALLOWLIST))},
    )

    def build(store: Path) -> None:
        with db.connect(store) as con:
            con.execute("SET memory_limit = ?", [DETECT_MEMORY_LIMIT])
            bulk.fill_events(con, events)
            con.execute("CHECKPOINT")

    detect_store = prepared_store(workdir, "detect", str(events), build, keep=keep)
    with db.connect(detect_store) as con:
        con.execute("SET memory_limit = ?", [DETECT_MEMORY_LIMIT])
        started = time.perf_counter()
        detected = runner.run(
            con, config, run_id="bench-detect", now=lambda: datetime(2026, 11, 29), rescan_all=True
        )
        detect_seconds = time.perf_counter() - started
        alerts = con.execute("SELECT count(*) FROM alerts").fetchone()[0]  # type: ignore[index]
    return {
        "detect_seconds": round(detect_seconds, 3),
        "detect_events_per_s": round(events / detect_seconds),
        "detect_alerts": alerts,
        "detect_duckdb_memory_limit": DETECT_MEMORY_LIMIT,
        "detectors": {d.detector_id: round(d.seconds, 3) for d in detected.detectors},
        "detector_status": {d.detector_id: d.status for d in detected.detectors},
    }


def run_bench(
    events: int,
    fmt: str,
    workdir: Path | None,
    *,
    stages: tuple[str, ...] = ("import", "detect"),
    ingest_orgs: int = 0,
    ingest_rows: int = 50_000,
    dashboard_size: tuple[int, int] = (10_000_000, 100_000),
    latency: tuple[float, float] = (0.0, 0.0),
    scale: ScaleOptions | None = None,
    render_runs: int = 3,
    query_runs: int = 10,
) -> int:
    temporary = workdir is None
    folder = Path(tempfile.mkdtemp(prefix="tokensentry-bench-")) if temporary else workdir
    assert folder is not None
    folder.mkdir(parents=True, exist_ok=True)
    err = output.stderr()
    try:
        with err.status(f"benchmarking {events:,} events in {folder} …"):
            figures = measure(
                events, folder, stages, dashboard_size, keep=not temporary,
                render_runs=render_runs, query_runs=query_runs,
            )  # fmt: skip
        if ingest_orgs:
            from .ingest import measure as measure_ingest

            with err.status(f"ingesting {ingest_orgs} fake orgs × {ingest_rows:,} rows …"):
                figures["ingest"] = measure_ingest(
                    ingest_orgs, ingest_rows, latency=Latency(*latency)
                )
        if "ingest-scale" in stages:
            from .ingest_scale import measure_scale

            with err.status("ingest-scale …") as status:
                figures["ingest_scale"] = measure_scale(
                    scale or ScaleOptions([100, 1000], [4, 16, 64]),
                    Latency(*latency),
                    progress=status.update,
                )
    finally:
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)
    dashboard = figures.get("dashboard")
    if fmt == "json":
        output.print_json(figures)
    else:
        for key, value in figures.items():
            if key in ("dashboard", "ingest_scale"):
                continue
            output.stdout().print(f"{key:24} {value}", highlight=False)
        if dashboard is not None:
            from .report import print_dashboard

            print_dashboard(dashboard)
        if "ingest_scale" in figures:
            from .report import print_ingest_scale

            print_ingest_scale(figures["ingest_scale"])
    failed = any(status != "ok" for status in figures.get("detector_status", {}).values())
    failed = failed or any("error" in r for r in (dashboard or {}).get("queries", {}).values())
    pages = (dashboard or {}).get("pages", {})
    failed = (
        failed or "error" in pages or any("error" in r for r in pages.get("pages", {}).values())
    )
    return 1 if failed else 0
