"""`tokensentry demo`: the whole product on the demo world, through production's code paths.

The demo world (sandbox.demo) is built for a reference date. Its API orgs are served by
the local fake Salesforce over HTTPS and pulled by `tokensentry ingest`'s own code through
simple-salesforce with the JWT bearer flow; the import-only orgs' exported event log files and
the partner's token-exchange log go through `import`; then `detect` and the digest the nightly
job would send (written to DIR/outbox/). Detection runs "as of" the end of the reference day,
so the same date gives the same alerts with the same ids. The fake Salesforce lives only while
the demo runs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from detect import runner
from ingest import config as config_module
from ingest import db, ingestion
from ingest.errors import InputError
from ingest.importer import import_paths
from ingest.runs import new_run_id
from ingest.timeparse import now_utc
from sandbox import demo as demo_world
from sandbox.demo import files, serve
from sandbox.demo.cast import ORGS
from sandbox.fakesf.fleet import new_key_pair
from sandbox.fakesf.server import FakeSalesforce

from .. import console as output
from .. import digest, queries
from ..progress import IngestProgress
from ..settings import DEFAULT_CONFIG, DEFAULT_DB
from . import defaults, stories

if TYPE_CHECKING:
    from ..settings import Settings

DIGEST_CONFIG = """
[digest]
from = "tokensentry@acme-sync.example"
to = ["secops@acme-sync.example"]
dashboard_url = "http://localhost:{port}"
"""

PREHISTORY = timedelta(days=50)
"""How far before the world's 30 days ingest reaches: LoginHistory keeps six months, and one
story (a token dormant for 40 days) needs its last use before the window."""


def default_as_of(today: date | None = None) -> date:
    """The last whole UTC day before today."""
    return (today or datetime.now(UTC).date()) - timedelta(days=1)


def run_demo(
    settings: Settings, demo_dir: Path, *, serve_port: int | None, as_of: date | None = None
) -> int:
    err = output.stderr()
    with db.connect(settings.db) as con:
        _refuse_foreign_data(con, settings.db)
    world = demo_world.build(as_of or default_as_of())
    demo_dir.mkdir(parents=True, exist_ok=True)
    key_path, keys = _ingest_key(demo_dir / "keys")
    export_dir = demo_dir / "export"
    exports = files.write_exports(world, export_dir)
    partner_log = files.write_partner_log(world, export_dir / "partner" / "token-exchange.jsonl")
    # The demo's one clock: the nightly job runs at the end of the reference day. Ingest reads
    # the token snapshots at it too, so a pinned --as-of gives the same idleness on any day.
    detect_now = world.end
    clock = lambda: detect_now  # noqa: E731
    demo_config = demo_dir / "tokensentry.toml"  # what stays: every org import-only
    demo_config.write_text(defaults.lasting_config(serve_port or 8501))
    run_dir = tempfile.TemporaryDirectory(prefix="tokensentry-demo-")
    with run_dir, FakeSalesforce(serve.fake_orgs(world, keys)) as fake:
        ca_path = demo_dir / "keys" / "fake-salesforce-ca.pem"
        shutil.copyfile(fake.ca_path, ca_path)
        # The run's own configuration: the API orgs point at the fake Salesforce, which is gone
        # when the demo ends, so this file goes with it.
        run_config = Path(run_dir.name) / "tokensentry.toml"
        run_config.write_text(
            "# The demo's run: API orgs at the local fake Salesforce, the rest import-only.\n\n"
            + files.config_apps()
            + "\n"
            + serve.config_api_orgs(fake.url, str(ca_path.resolve()), str(key_path), fake.orgs)
            + "\n"
            + files.config_import_orgs()
            + DIGEST_CONFIG.format(port=serve_port or 8501)
        )
        config_path = run_config if settings.config == DEFAULT_CONFIG else settings.config
        config = config_module.load(config_path, required=True)
        err.print(
            f"demo world {world.start:%Y-%m-%d} → {world.end - timedelta(days=1):%Y-%m-%d}: "
            f"{len(fake.orgs)} orgs over HTTPS from the fake Salesforce at {fake.url}, "
            f"{len(exports)} from exported files",
            highlight=False,
        )
        with db.connect(settings.db) as con:
            with IngestProgress(enabled=True) as progress:
                pulled = ingestion.run(
                    con,
                    config,
                    run_id=new_run_id(now_utc()),
                    now=clock,
                    since=world.start - PREHISTORY,
                    on_event=progress.update,
                )
            imported = [
                import_paths(
                    con,
                    export.logs,
                    org_id=export.org_id,
                    run_id=new_run_id(now_utc()),
                    now=clock,
                )
                for export in exports
            ]
            imported += [  # each weekly snapshot as its import job read it, back then
                import_paths(
                    con,
                    [path],
                    org_id=export.org_id,
                    run_id=new_run_id(moment),
                    now=lambda moment=moment: moment,
                )
                for export in exports
                for path, moment in export.snapshots
            ]
            imported.append(
                import_paths(
                    con, [partner_log], org_id=None, run_id=new_run_id(now_utc()), now=clock
                )
            )
            detected = runner.run(con, config, run_id=new_run_id(detect_now), now=clock)
            queries.refresh_rollups(con, config, now=detect_now)
            outbox = write_digest(con, config, demo_dir / "outbox", detect_now, world)
            alerts = queries.alert_records(queries.alerts(con))
            counts = queries.store_counts(con)
            by_severity = queries.severity_counts(con)
    err.print(
        f"imported {sum(i.totals.rows_new for i in imported)} new rows from "
        f"{len(exports)} orgs' files and the partner's token log; store {settings.db}: "
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
    adopted = defaults.adopt(demo_config, settings.db, settings.config)
    flags = "" if settings.db == DEFAULT_DB else f" --db {settings.db}"
    err.print(f"list them:   tokensentry{flags} alerts", highlight=False)
    err.print(f"the digest the nightly job would send: {outbox}", highlight=False)
    err.print(f"config:      {adopted}", highlight=False)
    _report_stories(err, alerts)
    failed = pulled.failed or any(i.failed for i in imported) or detected.failed
    if serve_port is None:
        return 1 if failed else 0
    from ..web.serve import serve as serve_dashboard

    err.print(f"dashboard:   http://localhost:{serve_port}  (Ctrl-C stops it)")
    shown = config_path if config_path != run_config else demo_config
    return serve_dashboard(settings.db, shown, serve_port)


def write_digest(con, config, outbox: Path, now: datetime, world) -> Path:
    """The digest the nightly job would send the morning after the reference day, written as
    the exact message instead of sent (`tokensentry digest --dry-run`); nothing is marked sent."""
    message = digest.build(con, config, now=now)
    return digest.write_eml(
        outbox / f"digest-{world.end - timedelta(days=1):%Y-%m-%d}.eml", message
    )


def _report_stories(err, alerts: list[dict]) -> None:
    """Say whether every planted story raised its alerts (when run from a checkout)."""
    if not stories.STORIES_FILE.exists():
        return
    report = stories.check(stories.load(), alerts)
    if report.clean:
        err.print(
            f"stories:     all {report.stories} in {stories.STORIES_FILE.name} raised what they "
            "plant; nothing unplanned at medium or above",
            highlight=False,
        )
    for story_id, rule in report.missing:
        err.print(f"story {story_id}: no alert {rule}", highlight=False)
    for story_id, alert in report.noisy:
        err.print(f"story {story_id}: should stay quiet: {alert['summary']}", highlight=False)
    for alert in report.unplanned:
        err.print(f"unplanned {alert['severity']} alert: {alert['summary']}", highlight=False)


def _ingest_key(keys_dir: Path):
    """The ingest job's JWT key pair: a fresh one per demo run, private key readable by us only."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    keys = new_key_pair()
    key_path = (keys_dir / "ingest-jwt.pem").resolve()
    key_path.write_bytes(keys.private_pem)
    os.chmod(key_path, 0o600)
    return key_path, keys


def _refuse_foreign_data(con, db_path: Path) -> None:
    """Never mix the demo world into a store that holds real orgs."""
    demo_org_ids = [org.org_id for org in ORGS]
    foreign = con.execute(
        "SELECT DISTINCT org_id FROM events WHERE NOT list_contains(?, org_id) LIMIT 3",
        [demo_org_ids],
    ).fetchall()
    if foreign:
        raise InputError(
            f"{db_path} holds events of other orgs ({', '.join(r[0] for r in foreign)}); "
            "run the demo into its own file: tokensentry --db data/demo/tokensentry.duckdb demo"
        )
