"""The `tokensentry` command line (CONTRACT §2): thin commands over the library.

Exit status: 0 success, 1 the command ran but a unit (file, org, detector) failed, 2 usage or
configuration errors. Errors go to stderr and name the file, org, key or line.

This module is the group and its global options, and the one list of commands (`COMMANDS`);
each command's options live in a *_commands module, its body in the library or commands.py.
"""

from __future__ import annotations

from pathlib import Path

import click

from ingest import private_files
from ingest.formats.redact import scrub_log_records

from ..settings import DEFAULT_CONFIG, DEFAULT_DB, Settings
from . import (
    alert_commands,
    bench_command,
    egress_commands,
    load_commands,
    report_commands,
    scheduled_commands,
    storage,
    web_commands,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="TOKENSENTRY_DB",
    default=DEFAULT_DB,
    show_default=True,
    help="DuckDB file (env TOKENSENTRY_DB).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="TOKENSENTRY_CONFIG",
    default=DEFAULT_CONFIG,
    show_default=True,
    help="TOML configuration (env TOKENSENTRY_CONFIG); a missing default means no orgs.",
)
@click.option("-v", "--verbose", is_flag=True, help="More detail on stderr.")
@click.version_option(package_name="tokensentry")
@click.pass_context
def cli(ctx: click.Context, db: Path, config_path: Path, verbose: bool) -> None:
    """Refresh-token and login anomaly monitoring for Salesforce Connected Apps and ECAs.

    Data flows one way: import / ingest → events → detect → alerts → dashboard.
    """
    private_files.restrict_umask()  # stores, downloads, e-mails, exports: owner-only
    scrub_log_records()  # no library's log line carries a token either
    ctx.obj = Settings(db=db, config=config_path, verbose=verbose)


# Every command (`--help` lists them by name). To add one: define it with @click.command and
# @store_options in a *_commands module of this package, its body imported inside the function
# so that `--help` stays fast, then register it here with one line.
COMMANDS: tuple[click.Command, ...] = (
    load_commands.ingest,
    load_commands.import_command,
    load_commands.detect,
    alert_commands.alerts,
    alert_commands.triage,
    egress_commands.egress,
    scheduled_commands.digest,
    scheduled_commands.nightly,
    web_commands.dashboard,
    web_commands.demo,
    bench_command.bench,
    storage.prune,
    storage.export,
    report_commands.controls,
    report_commands.health,
)
for command in COMMANDS:
    cli.add_command(command)
