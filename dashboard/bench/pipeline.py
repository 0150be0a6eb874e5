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

from .. import console as output
from . import analyst
from .reuse import prepared_store

ORGS = ["00D5g000004XyZa", "00D5g000007PqRs", "00D5g00000InTeC"]
ALLOWLIST = ["203.0.113.0/28", "2001:db8:10::/48"]

ELF_SQL = """
COPY (
  SELECT 'Login' AS EVENT_TYPE,
    strftime(ts, '%Y%m%d%H%M%S.%g') AS "TIMESTAMP",
    md5(i::VARCHAR)[1:22] AS REQUEST_ID,
    {orgs}[1 + i % 3] AS ORGANIZATION_ID,
    '0055g0000' || lpad((i % 120)::VARCHAR, 6, '0') AS USER_ID,
    (40 + i % 160)::VARCHAR AS RUN_TIME, (10 + i % 50)::VARCHAR AS CPU_TIME,
    CASE WHEN kind < 95 THEN '/services/oauth2/token' ELSE '/index.jsp' END AS URI,
    '' AS SESSION_KEY, md5('k' || i::VARCHAR)[1:16] AS LOGIN_KEY, 'Standard' AS USER_TYPE,
    CASE WHEN kind < 98 THEN 'Success' ELSE 'Failure' END AS REQUEST_STATUS,
    (1000000 + i % 90000000)::VARCHAR AS DB_TOTAL_TIME,
    CASE WHEN kind < 95 THEN 'Java/17.0.9' ELSE 'Mozilla/5.0 (Macintosh) Chrome/131.0' END
        AS BROWSER_TYPE,
    '' AS API_TYPE, '62.0' AS API_VERSION,
    'user' || (i % 120)::VARCHAR || '@example.com' AS USER_NAME,
    'TLSv1.3' AS TLS_PROTOCOL, 'TLS_AES_256_GCM_SHA384' AS CIPHER_SUITE,
    '' AS AUTHENTICATION_METHOD_REFERENCE,
    CASE WHEN kind < 95 THEN 'i' ELSE 'A' END AS LOGIN_TYPE,
    CASE WHEN kind < 90 THEN 'oauthrefreshtoken' WHEN kind < 95 THEN 'oauthcode' ELSE 'uiup' END
        AS LOGIN_SUB_TYPE,
    CASE WHEN kind < 98 THEN 'LOGIN_NO_ERROR' ELSE 'LOGIN_OAUTH_INVALID_IP' END AS LOGIN_STATUS,
    strftime(ts, '%Y-%m-%dT%H:%M:%S.%gZ') AS TIMESTAMP_DERIVED,
    '' AS USER_ID_DERIVED, ip AS CLIENT_IP, '' AS URI_ID_DERIVED, ip AS SOURCE_IP,
    'US' AS COUNTRY_CODE
  FROM (
    SELECT i, (hash(i) % 100)::INTEGER AS kind,
           TIMESTAMP '2026-11-01' + to_milliseconds(i * 1200 + hash(i) % 1000) AS ts,
           CASE WHEN hash(i * 7) % 100 < 97 THEN '203.0.113.' || (hash(i) % 14 + 1)::VARCHAR
                ELSE '198.51.' || (hash(i) % 250)::VARCHAR || '.' || (hash(i * 3) % 250)::VARCHAR
           END AS ip
    FROM range({n}) t(i))
) TO '{path}' (HEADER, FORCE_QUOTE *)
"""

EVENTS_SQL = """
INSERT INTO events BY NAME
WITH base AS (
    SELECT i, (hash(i) % 1000)::INTEGER AS kind, (hash(i * 31) % 1000)::INTEGER AS noise,
           TIMESTAMP '2026-10-30' + to_microseconds(CAST(i * (30 * 86400e6 / {n}) AS BIGINT))
               AS occurred_at,
           {orgs18}[1 + i % 3] AS org_id
    FROM range({n}) t(i)
)
SELECT md5('e' || i::VARCHAR) AS event_id, org_id, occurred_at,
    CASE WHEN kind < 600 THEN 'login' WHEN kind < 800 THEN 'token_exchange'
         WHEN kind < 900 THEN 'login' ELSE 'api_request' END AS event_type,
    CASE WHEN kind < 800 THEN 'refresh_token' WHEN kind < 880 THEN 'ui'
         WHEN kind < 900 THEN 'authorization_code' END AS grant_type,
    noise >= 5 AS is_success,
    CASE WHEN noise < 5 THEN 'Failed: Invalid Token' ELSE 'Success' END AS status,
    -- integration users refresh; people log in; a few hundred of each per org
    CASE WHEN kind < 800 THEN '0055g0000Int' || lpad((i % 40)::VARCHAR, 3, '0') || 'AAA'
         ELSE '0055g000Hum' || lpad((i % 300)::VARCHAR, 4, '0') || 'AAA' END AS user_id,
    CASE WHEN kind BETWEEN 800 AND 879 THEN NULL
         WHEN i % 7 = 0 THEN 'Acme Reports' ELSE 'Acme Sync' END AS app_name,
    CASE WHEN kind < 800 AND noise < 998
             THEN CASE WHEN i % 2 = 0 THEN '203.0.113.' || (1 + i % 14)::VARCHAR
                       ELSE '2001:db8:10::' || (1 + i % 14)::VARCHAR END
         WHEN kind < 800 THEN '198.51.100.' || (noise % 40)::VARCHAR   -- rare off-allowlist use
         WHEN noise < 990
             THEN '100.' || (i % 300 % 64)::VARCHAR || '.' || (i % 300)::VARCHAR || '.1'
         ELSE '185.220.101.' || (noise % 200)::VARCHAR END AS source_ip,
    CASE WHEN kind >= 800 AND kind < 900 AND noise < 990
         THEN 40.7 + (i % 300) % 9 ELSE NULL END AS latitude,
    CASE WHEN kind >= 800 AND kind < 900 AND noise < 990
         THEN -74.0 + (i % 300) % 11 ELSE NULL END AS longitude,
    CASE WHEN kind < 800 THEN 'US' ELSE ['US', 'GB', 'DE'][1 + i % 3] END AS country_iso,
    CASE WHEN kind < 600 OR kind >= 900 THEN 'Remote Access 2.0' ELSE 'Application' END
        AS login_type,
    CASE WHEN noise = 999 THEN 'python-requests/2.32.4' WHEN kind < 900 THEN 'Java/17.0.9'
         ELSE 'Mozilla/5.0 Chrome/131.0' END AS user_agent,
    CASE WHEN kind BETWEEN 600 AND 799
         THEN md5('fp' || (i - CASE WHEN noise = 0 THEN 3 ELSE 0 END)::VARCHAR) END AS token_fp,
    CASE WHEN kind BETWEEN 600 AND 799 THEN md5('fp' || (i + 3)::VARCHAR) END AS new_token_fp,
    CASE WHEN kind BETWEEN 600 AND 799 THEN 'sync-' || (i % 4)::VARCHAR END AS worker,
    CASE WHEN kind >= 900 THEN (hash(i) % 5000)::BIGINT END AS rows_processed,
    CASE WHEN kind < 600 THEN ['soql:LoginHistory'] WHEN kind < 800 THEN ['partner_token_log']
         ELSE ['elf:Login'] END AS sources,
    'bench' AS first_run_id, TIMESTAMP '2026-11-29' AS ingested_at,
    TIMESTAMP '2026-11-29' AS updated_at
FROM base
"""

TOKENS_SQL = """
INSERT INTO events BY NAME
SELECT md5('t' || i::VARCHAR) AS event_id, {orgs18}[1 + i % 3] AS org_id,
       TIMESTAMP '2026-11-28' - to_days(i % 45) AS occurred_at, 'token_usage' AS event_type,
       'refresh_token' AS grant_type, '0055g0000Int' || lpad((i % 40)::VARCHAR, 3, '0') || 'AAA'
           AS user_id,
       'Acme Sync' AS app_name, i AS use_count, TIMESTAMP '2026-06-01' AS token_created_at,
       ['soql:OauthToken'] AS sources, 'bench' AS first_run_id,
       TIMESTAMP '2026-11-29' AS ingested_at, TIMESTAMP '2026-11-29' AS updated_at
FROM range(120) t(i)
"""


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(
    events: int,
    workdir: Path,
    stages: tuple[str, ...] = ("import", "detect"),
    dashboard_size: tuple[int, int] = (10_000_000, 100_000),
    keep: bool = False,
) -> dict[str, Any]:
    figures: dict[str, Any] = {"events": events}
    if "import" in stages:
        figures.update(measure_import(events, workdir))
        figures.update(analyst.measure(events, workdir, keep, ALLOWLIST))
    if "detect" in stages:
        figures.update(measure_detect(events, workdir, keep))
    if "dashboard" in stages:
        from .dashboard import measure_dashboard

        figures["dashboard"] = measure_dashboard(workdir, *dashboard_size)
    figures["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    figures["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
    }
    return figures


def measure_import(events: int, workdir: Path) -> dict[str, Any]:
    orgs = "[" + ", ".join(f"'{o}'" for o in ORGS) + "]"
    elf = workdir / "bench-Login.csv"
    with duckdb.connect() as con:
        con.execute(ELF_SQL.format(orgs=orgs, n=events, path=elf))
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
        apps={"Acme Sync": AppConfig("Acme Sync", None, IpAllowlist.parse(ALLOWLIST))},
    )
    from ingest.sfid import to18

    orgs18 = "[" + ", ".join(f"'{to18(o)}'" for o in ORGS) + "]"

    def build(store: Path) -> None:
        with db.connect(store) as con:
            con.execute("SET memory_limit = ?", [DETECT_MEMORY_LIMIT])
            con.execute(EVENTS_SQL.format(orgs18=orgs18, n=events))
            con.execute(TOKENS_SQL.format(orgs18=orgs18))
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
) -> int:
    temporary = workdir is None
    folder = Path(tempfile.mkdtemp(prefix="tokensentry-bench-")) if temporary else workdir
    assert folder is not None
    folder.mkdir(parents=True, exist_ok=True)
    err = output.stderr()
    try:
        with err.status(f"benchmarking {events:,} events in {folder} …"):
            figures = measure(events, folder, stages, dashboard_size, keep=not temporary)
        if ingest_orgs:
            from .ingest import measure as measure_ingest

            with err.status(f"ingesting {ingest_orgs} fake orgs × {ingest_rows:,} rows …"):
                figures["ingest"] = measure_ingest(ingest_orgs, ingest_rows)
    finally:
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)
    dashboard = figures.get("dashboard")
    if fmt == "json":
        output.print_json(figures)
    else:
        for key, value in figures.items():
            if key == "dashboard":
                continue
            output.stdout().print(f"{key:24} {value}", highlight=False)
        if dashboard is not None:
            from .report import print_dashboard

            print_dashboard(dashboard)
    failed = any(status != "ok" for status in figures.get("detector_status", {}).values())
    failed = failed or any("error" in r for r in (dashboard or {}).get("queries", {}).values())
    return 1 if failed else 0
