"""`tokensentry prune` and `tokensentry export`: keeping the store a size one machine holds,
and handing its events to tools that scale past one machine.

Registered on the command group by main.py; the work is in ingest/prune.py and
ingest/parquet_export.py, the detectors' minimum history in dashboard/store_maintenance.py.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from ingest.errors import InputError
from ingest.timeparse import now_utc

from .. import console as output
from ..settings import Settings
from .options import store_options


@click.command()
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=1),
    help="Retention in days (default: [store] retention_days). Refused when shorter than the "
    "history a detector needs.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be deleted; change nothing.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@store_options
def prune(settings: Settings, days: int | None, dry_run: bool, fmt: str) -> int:
    """Drop raw rows and events older than DAYS, keeping alerts, incidents, triage, the audit
    trail and every event an alert cites; rewrite the store so the file shrinks. Takes the
    nightly lock; needs free disk for the copy.

    Example: tokensentry prune --older-than 180 --dry-run
    """
    from detect import registry
    from ingest import prune as pruning

    from ..nightly import NightlyLocked, nightly_lock
    from ..store_maintenance import check_retention, describe

    config = settings.load_config()
    days = days or config.store.retention_days
    if days is None:
        raise InputError("prune: give --older-than DAYS or set [store] retention_days")
    registry.check_config(config)  # tuned detector windows decide the minimum
    check_retention(config, days)
    if dry_run:
        report = pruning.plan(settings.db, days=days, now=now_utc())
    else:
        try:
            with nightly_lock(settings.db):
                report = pruning.prune(settings.db, days=days, now=now_utc())
        except NightlyLocked as exc:
            output.stderr().print(f"error: {exc}", highlight=False, markup=False)
            return 1
    if fmt == "json":
        output.print_json(report.as_dict())
        return 0
    table = Table(pad_edge=False, title=f"prune before {report.cutoff:%Y-%m-%d} ({days} days)")
    for name in ("table", "rows", "would delete" if dry_run else "deleted", "older kept", "left"):
        table.add_column(name, justify="left" if name == "table" else "right")
    for t in report.tables:
        table.add_row(
            t.table, f"{t.rows:,}", f"{t.deleted:,}", f"{t.kept_old:,}", f"{t.rows - t.deleted:,}"
        )
    output.stdout().print(table)
    output.stderr().print(describe(report), highlight=False, markup=False)
    return 0


@click.command(name="export")
@click.argument("out_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet"]),
    default="parquet",
    show_default=True,
    help="Output format.",
)
@click.option("--report", type=click.Choice(["table", "json"]), default="table")
@store_options
def export(settings: Settings, out_dir: Path, fmt: str, report: str) -> int:
    """Write events as Hive-partitioned Parquet (org_id, day) under DIR/events, appending new
    days and rewriting changed ones (DIR/_manifest.json remembers), and alerts, incidents and
    incident membership as snapshots. Raw rows are never exported.

    Example: tokensentry export --format parquet /srv/lake/tokensentry
    """
    from ingest.parquet_export import export as run_export

    result = run_export(settings.db, out_dir, now=now_utc())
    if report == "json":
        output.print_json(result.as_dict())
        return 0
    for key, value in result.as_dict().items():
        output.stdout().print(f"{key:24} {value}", highlight=False, markup=False)
    return 0
