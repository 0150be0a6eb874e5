"""`tokensentry bench`: throughput and peak memory of import and detection (CONTRACT §6).

Import is measured on a generated Login EventLogFile CSV of N rows, next to DuckDB's bare
`read_csv` of the same file into a table (every column, as text: the work any lossless import
must at least do). Detection is measured on N generated normalized events of a realistic mix
(integration refreshes from allowlisted egress, people's logins, a sprinkle of off-allowlist
use), because the Login ELF alone names no app. Speed is a benchmark figure, never a test.
"""

from __future__ import annotations

import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from detect import runner
from ingest import db
from ingest.config import AppConfig, Config
from ingest.importer import import_paths
from ingest.netlist import IpAllowlist
from ingest.timeparse import now_utc

from . import output

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
SELECT md5('e' || i::VARCHAR) AS event_id,
       {orgs18}[1 + i % 3] AS org_id,
       TIMESTAMP '2026-11-01' + to_milliseconds(i * 1200) AS occurred_at,
       CASE WHEN kind < 80 THEN 'login' ELSE 'token_exchange' END AS event_type,
       CASE WHEN kind < 88 THEN 'refresh_token' WHEN kind < 94 THEN 'authorization_code'
            ELSE 'ui' END AS grant_type,
       kind < 98 AS is_success,
       CASE WHEN kind < 98 THEN 'Success' ELSE 'Failed: IP Address Not Allowed' END AS status,
       '0055g0000' || lpad((i % 120)::VARCHAR, 6, '0') || 'AAA' AS user_id,
       CASE WHEN i % 5 = 0 THEN 'Other App' ELSE 'Acme Sync' END AS app_name,
       CASE WHEN hash(i * 7) % 1000 < 998 THEN '203.0.113.' || (hash(i) % 14 + 1)::VARCHAR
            ELSE '198.51.100.' || (hash(i * 3) % 25)::VARCHAR  -- a few dozen off-list hosts
       END AS source_ip,
       'Remote Access 2.0' AS login_type,
       ['bench'] AS sources, 'bench' AS first_run_id,
       TIMESTAMP '2026-11-29' AS ingested_at, TIMESTAMP '2026-11-29' AS updated_at
FROM (SELECT i, (hash(i) % 100)::INTEGER AS kind FROM range({n}) t(i))
"""


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(events: int, workdir: Path) -> dict[str, Any]:
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

    detect_store = workdir / "detect.duckdb"
    config = Config(
        path=None,
        apps={"Acme Sync": AppConfig("Acme Sync", None, IpAllowlist.parse(ALLOWLIST))},
    )
    from ingest.sfid import to18

    orgs18 = "[" + ", ".join(f"'{to18(o)}'" for o in ORGS) + "]"
    with db.connect(detect_store) as con:
        con.execute(EVENTS_SQL.format(orgs18=orgs18, n=events))
        con.execute("CHECKPOINT")
        started = time.perf_counter()
        detected = runner.run(con, config, run_id="bench-detect", now=now_utc, rescan_all=True)
        detect_seconds = time.perf_counter() - started
        alerts = con.execute("SELECT count(*) FROM alerts").fetchone()[0]  # type: ignore[index]
    return {
        "events": events,
        "elf_file_mb": round(size_mb, 1),
        "read_csv_seconds": round(read_csv_seconds, 3),
        "read_csv_rows_per_s": round(events / read_csv_seconds),
        "import_seconds": round(import_seconds, 3),
        "import_rows_per_s": round(totals.rows_read / import_seconds),
        "import_vs_read_csv": round(read_csv_seconds / import_seconds, 3),
        "import_rows_quarantined": totals.rows_quarantined,
        "import_events": imported_events,
        "detect_seconds": round(detect_seconds, 3),
        "detect_events_per_s": round(events / detect_seconds),
        "detect_alerts": alerts,
        "detectors": {d.detector_id: round(d.seconds, 3) for d in detected.detectors},
        "detector_status": {d.detector_id: d.status for d in detected.detectors},
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "machine": {
            "cpus": __import__("os").cpu_count(),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
        },
    }


def run_bench(
    events: int, fmt: str, workdir: Path | None, *, ingest_orgs: int = 0, ingest_rows: int = 50_000
) -> int:
    temporary = workdir is None
    folder = Path(tempfile.mkdtemp(prefix="tokensentry-bench-")) if temporary else workdir
    assert folder is not None
    folder.mkdir(parents=True, exist_ok=True)
    err = output.stderr()
    try:
        with err.status(f"benchmarking {events:,} events in {folder} …"):
            figures = measure(events, folder)
        if ingest_orgs:
            from .bench_ingest import measure as measure_ingest

            with err.status(f"ingesting {ingest_orgs} fake orgs × {ingest_rows:,} rows …"):
                figures["ingest"] = measure_ingest(ingest_orgs, ingest_rows)
    finally:
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)
    if fmt == "json":
        output.print_json(figures)
    else:
        for key, value in figures.items():
            output.stdout().print(f"{key:24} {value}", highlight=False)
    failed = any(status != "ok" for status in figures["detector_status"].values())
    return 1 if failed else 0
