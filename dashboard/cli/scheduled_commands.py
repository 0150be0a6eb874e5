"""What cron or a systemd timer runs: `digest` and `nightly`."""

from __future__ import annotations

from pathlib import Path

import click

from ..settings import Settings
from .options import store_options, when


@click.command()
@click.option("--since", help="Cover alerts last seen since WHEN instead of since the last digest.")
@click.option(
    "--dry-run",
    "dry_run",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the exact message to FILE.eml (mode 0600) instead of sending; records nothing.",
)
@click.option("--to", "to", multiple=True, help="Send to ADDR instead of digest.to (repeatable).")
@click.option("--resend", is_flag=True, help="Include alerts an earlier digest already covered.")
@store_options
def digest(
    settings: Settings, since: str | None, dry_run: Path | None, to: tuple[str, ...], resend: bool
) -> int:
    """Email the alerts that are new or rose in severity since the last digest actually sent,
    with the pipeline's health ([digest] settings). Exit 1 when the server refused it: nothing
    is then marked sent, and the next run includes those alerts.

    Example: tokensentry digest --dry-run /tmp/digest.eml
    """
    from .nightly_commands import run_digest_command

    return run_digest_command(settings, when(since), dry_run, to, resend)


@click.command()
@click.option("--since", help="Ingest from WHEN instead of each source's cursor.")
@store_options
def nightly(settings: Settings, since: str | None) -> int:
    """ingest → detect → digest in one process, for cron or a systemd timer. An OS lock beside
    the database makes an overlapping start exit 1 at once; one line per event on stderr.

    Example: tokensentry --db /var/lib/tokensentry/store.duckdb nightly
    """
    from .nightly_commands import run_nightly_command

    return run_nightly_command(settings, when(since))
