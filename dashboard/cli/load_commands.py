"""Getting data in and finding anomalies: `ingest`, `import`, `detect`."""

from __future__ import annotations

from pathlib import Path

import click

from ..settings import Settings
from .options import store_options, when


@click.command()
@click.option("--org", "aliases", multiple=True, help="Only this org alias (repeatable).")
@click.option("--since", help="Re-read from WHEN (24h, 7d or ISO 8601) instead of each cursor.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@store_options
def ingest(settings: Settings, aliases: tuple[str, ...], since: str | None, fmt: str) -> int:
    """Pull every configured org's sources (LoginHistory, OauthToken, EventLogFile, LoginEvent)
    through simple-salesforce, incrementally; one org's failure does not stop the others.

    Example: tokensentry ingest --org acme-prod --since 2d --format json
    """
    from .commands import run_ingest

    return run_ingest(settings, list(aliases), when(since), fmt)


@click.command(name="import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--org", "org_id", help="Org id for files that carry none (SOQL exports).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@store_options
def import_command(
    settings: Settings, paths: tuple[Path, ...], org_id: str | None, fmt: str
) -> int:
    """Load exported files or folders (EventLogFile CSV, SOQL JSON, Data Loader CSV, partner
    token-log JSON Lines). Importing the same file twice adds nothing.

    Example: tokensentry import --org 00D5g000004XyZa exports/
    """
    from .commands import run_import

    return run_import(settings, list(paths), org_id, fmt)


@click.command()
@click.option("--since", help="Scan events since WHEN (24h, 7d or ISO 8601).")
@click.option("--detector", "detectors", multiple=True, help="Run only this detector (repeatable).")
@click.option("--all", "rescan_all", is_flag=True, help="Re-scan every event.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@store_options
def detect(
    settings: Settings, since: str | None, detectors: tuple[str, ...], rescan_all: bool, fmt: str
) -> int:
    """Run detectors and upsert alerts. By default each detector scans what changed since its
    last successful run; --since scans by event time; --all scans everything.

    Example: tokensentry detect --since 7d --detector off_allowlist_ip
    """
    from .commands import run_detect

    return run_detect(settings, when(since), list(detectors), rescan_all, fmt)
