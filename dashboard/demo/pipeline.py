"""`tokensentry demo`: the embedded default, end to end, in one command.

The demo fleet (ingest.demo_data) is served by the local fake Salesforce over HTTPS, pulled by
`tokensentry ingest`'s own code through simple-salesforce with the JWT bearer flow, joined by
the partner's token-exchange log through `import`, detected, and shown in the dashboard. The
fake Salesforce lives only while the demo runs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from detect import runner
from ingest import config as config_module
from ingest import db, demo_data, demo_export, ingestion
from ingest.errors import InputError
from ingest.fakesf.fleet import config_text, demo_orgs, new_key_pair
from ingest.fakesf.server import FakeSalesforce
from ingest.importer import import_paths
from ingest.runs import new_run_id
from ingest.timeparse import now_utc

from .. import console as output
from .. import queries
from ..progress import IngestProgress
from ..settings import DEFAULT_CONFIG

if TYPE_CHECKING:
    from ..settings import Settings


def run_demo(settings: Settings, demo_dir: Path, *, serve_port: int | None) -> int:
    err = output.stderr()
    fleet = demo_data.build(now=now_utc())
    keys_dir = demo_dir / "keys"
    keys_dir.mkdir(parents=True, exist_ok=True)
    keys = new_key_pair()
    key_path = keys_dir / "ingest-jwt.pem"
    key_path.write_bytes(keys.private_pem)
    os.chmod(key_path, 0o600)
    partner_log = demo_export.write_partner_log(
        demo_dir / "partner" / "token-exchange.jsonl", fleet
    )
    with FakeSalesforce(demo_orgs(fleet, keys)) as fake:
        ca_path = keys_dir / "fake-salesforce-ca.pem"
        shutil.copyfile(fake.ca_path, ca_path)
        demo_config = demo_dir / "tokensentry.toml"
        demo_config.write_text(
            "# Written by `tokensentry demo`. The orgs point at the demo's local fake Salesforce,\n"
            "# which only runs during `tokensentry demo`.\n\n"
            + demo_export.config_text_apps()
            + "\n"
            + config_text(fake.url, str(ca_path.resolve()), str(key_path.resolve()), fake.orgs)
        )
        config_path = demo_config if settings.config == DEFAULT_CONFIG else settings.config
        config = config_module.load(config_path, required=True)
        err.print(f"fake Salesforce for {len(fake.orgs)} demo orgs at {fake.url}")
        with db.connect(settings.db) as con:
            _refuse_foreign_data(con, settings.db)
            with IngestProgress(enabled=True) as progress:
                pulled = ingestion.run(
                    con, config, run_id=new_run_id(now_utc()), now=now_utc, on_event=progress.update
                )
            imported = import_paths(
                con, [partner_log], org_id=None, run_id=new_run_id(now_utc()), now=now_utc
            )
            detected = runner.run(con, config, run_id=new_run_id(now_utc()), now=now_utc)
            counts = queries.store_counts(con)
            by_severity = queries.severity_counts(con)
    err.print(
        f"partner token log: {imported.totals.rows_new} calls; store {settings.db}: "
        f"{counts['events']} events",
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
    failed = pulled.failed or imported.failed or detected.failed
    if serve_port is None:
        return 1 if failed else 0
    from ..web.serve import serve

    err.print(f"dashboard:   http://localhost:{serve_port}  (Ctrl-C stops it)")
    return serve(settings.db, config_path, serve_port)


def _refuse_foreign_data(con, db_path: Path) -> None:
    """Never mix the demo fleet into a store that holds real orgs."""
    demo_orgs_ids = [org.org_id for org in demo_data.ORGS]
    foreign = con.execute(
        "SELECT DISTINCT org_id FROM events WHERE NOT list_contains(?, org_id) LIMIT 3",
        [demo_orgs_ids],
    ).fetchall()
    if foreign:
        raise InputError(
            f"{db_path} holds events of other orgs ({', '.join(r[0] for r in foreign)}); "
            "run the demo into its own file: tokensentry --db data/demo/tokensentry.duckdb demo"
        )
