"""`tokensentry demo`: the embedded default, end to end, in one command.

Writes the demo fleet's exports and config (ingest.demo_data), imports them through the same
path real exports take, runs every detector, prints what was found, and serves the dashboard.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from detect import runner
from ingest import config as config_module
from ingest import db, demo_data
from ingest.errors import InputError
from ingest.importer import import_paths
from ingest.runs import new_run_id
from ingest.timeparse import now_utc

from . import output, queries

if TYPE_CHECKING:
    from .cli import Settings


def run_demo(settings: Settings, demo_dir: Path, *, serve_port: int | None) -> int:
    from .cli import DEFAULT_CONFIG

    err = output.stderr()
    files = demo_data.write(demo_dir, now=now_utc())
    config_path = files.config if settings.config == DEFAULT_CONFIG else settings.config
    config = config_module.load(config_path, required=True)
    err.print(f"demo export: {len(files.files)} files under {demo_dir / 'export'}")
    with db.connect(settings.db) as con:
        _refuse_foreign_data(con, settings.db)
        run_id = new_run_id(now_utc())
        imported = import_paths(con, [files.partner_log], org_id=None, run_id=run_id, now=now_utc)
        for org_id, folder in files.org_dirs.items():
            per_org = import_paths(con, [folder], org_id=org_id, run_id=run_id, now=now_utc)
            imported.files.extend(per_org.files)
        detected = runner.run(con, config, run_id=new_run_id(now_utc()), now=now_utc)
        counts = queries.store_counts(con)
        by_severity = queries.severity_counts(con)
    totals = imported.totals
    err.print(
        f"imported {totals.rows_read} rows into {settings.db}: {counts['events']} events "
        f"({totals.events_enriched} logins merged across sources), "
        f"{totals.rows_quarantined} quarantined",
        highlight=False,
    )
    for outcome in detected.detectors:
        err.print(
            f"detector {outcome.detector_id}: {outcome.status}, {outcome.findings} finding(s)",
            highlight=False,
        )
    summary = ", ".join(f"{n} {s}" for s, n in sorted(by_severity.items())) or "none"
    err.print(f"open alerts: {summary}", highlight=False)
    err.print(f"list them:   tokensentry alerts --db {settings.db}", highlight=False)
    failed = imported.failed or detected.failed
    if serve_port is None:
        return 1 if failed else 0
    from .serve import serve

    err.print(f"dashboard:   http://localhost:{serve_port}  (Ctrl-C stops it)")
    return serve(settings.db, config_path, serve_port)


def _refuse_foreign_data(con, db_path: Path) -> None:
    """Never mix the demo fleet into a store that holds real orgs."""
    demo_orgs = [org.org_id for org in demo_data.ORGS]
    foreign = con.execute(
        "SELECT DISTINCT org_id FROM events WHERE NOT list_contains(?, org_id) LIMIT 3", [demo_orgs]
    ).fetchall()
    if foreign:
        raise InputError(
            f"{db_path} holds events of other orgs ({', '.join(r[0] for r in foreign)}); "
            "run the demo into its own file: tokensentry --db data/demo/tokensentry.duckdb demo"
        )
