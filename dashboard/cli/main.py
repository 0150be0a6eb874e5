"""The `tokensentry` command line (CONTRACT §2): thin commands over the library.

Exit status: 0 success, 1 the command ran but a unit (file, org, detector) failed, 2 usage or
configuration errors. Errors go to stderr and name the file, org, key or line.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from ingest import private_files
from ingest.errors import InputError
from ingest.formats.redact import scrub_log_records

from ..settings import DEFAULT_CONFIG, DEFAULT_DB, Settings
from .options import FORMATS, store_options, when
from .storage import export, prune


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


@cli.command()
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


@cli.command(name="import")
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


@cli.command()
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


@cli.command()
@click.option("--format", "fmt", type=FORMATS, default="table")
@click.option("--detector", "detectors", multiple=True, help="Only this detector (repeatable).")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["new", "acknowledged", "resolved", "false_positive"]),
    help="Only this triage status (repeatable).",
)
@click.option("--since", help="Alerts last seen since WHEN (24h, 7d or ISO 8601).")
@click.option(
    "--severity",
    "min_severity",
    help="Minimum severity.",
    type=click.Choice(["info", "low", "medium", "high", "critical"]),
)
@click.option(
    "--superseded",
    "include_superseded",
    is_flag=True,
    help="Also list alerts a full re-scan (`detect --all`) no longer finds.",
)
@click.option(
    "--incidents", "as_incidents", is_flag=True, help="List incidents (grouped alerts) instead."
)
@store_options
def alerts(
    settings: Settings,
    fmt: str,
    detectors: tuple[str, ...],
    statuses: tuple[str, ...],
    since: str | None,
    min_severity: str | None,
    include_superseded: bool,
    as_incidents: bool,
) -> int:
    """List alerts, most severe first; with --incidents, the incidents that group them.

    Example: tokensentry alerts --incidents --status new --severity high
    """
    from .commands import list_alerts, list_incidents

    if as_incidents:
        return list_incidents(
            settings, fmt, list(detectors), list(statuses), when(since), min_severity
        )
    return list_alerts(
        settings,
        fmt,
        list(detectors),
        list(statuses),
        when(since),
        min_severity,
        include_superseded=include_superseded,
    )


@cli.command()
@click.argument("target_ids", metavar="ID...", nargs=-1, required=True)
@click.option(
    "--status",
    required=True,
    type=click.Choice(["new", "acknowledged", "resolved", "false_positive"]),
)
@click.option("--note", help="Why (kept with the decision).")
@click.option("--analyst", help="Who decided (default: $USER).")
@click.option(
    "--alert",
    "only_alert",
    is_flag=True,
    help="The id is an alert even when it also names an incident (its first alert).",
)
@store_options
def triage(
    settings: Settings,
    target_ids: tuple[str, ...],
    status: str,
    note: str | None,
    analyst: str | None,
    only_alert: bool,
) -> int:
    """Record an analyst's decision on alerts or incidents, appended to the audit trail;
    detection never overwrites it. An incident id applies to every alert it holds now.

    Example: tokensentry triage 3f2a9c... --status false_positive --note "new NAT gateway"
    """
    from .commands import set_triage

    return set_triage(settings, list(target_ids), status, note, analyst, only_alert)


@cli.group()
def egress() -> None:
    """Known egress: addresses judged to be the partner's own, honoured by the detectors and by
    incident linking until they expire.

    Example: tokensentry egress add 198.51.100.7 --app "Acme Sync" --days 90 --note "new NAT"
    """


@egress.command(name="add")
@click.argument("network")
@click.option("--app", "app_name", help="Only for this app (default: any app).")
@click.option("--days", default=90, show_default=True, type=click.IntRange(1, 3650))
@click.option("--note", help="Why it is the partner's (kept with the entry).")
@click.option("--analyst", help="Who decided (default: $USER).")
@store_options
def egress_add(
    settings: Settings,
    network: str,
    app_name: str | None,
    days: int,
    note: str | None,
    analyst: str | None,
) -> int:
    """Record NETWORK (address, CIDR or start-end) as known egress for DAYS."""
    from .egress import add

    return add(settings, network, app_name, days, note, analyst)


@egress.command(name="list")
@click.option("--all", "include_inactive", is_flag=True, help="Also expired and removed entries.")
@click.option("--format", "fmt", type=FORMATS, default="table")
@store_options
def egress_list(settings: Settings, include_inactive: bool, fmt: str) -> int:
    """List known egress entries."""
    from .egress import list_entries

    return list_entries(settings, include_inactive, fmt)


@egress.command(name="remove")
@click.argument("egress_id")
@click.option("--analyst", help="Who decided (default: $USER).")
@store_options
def egress_remove(settings: Settings, egress_id: str, analyst: str | None) -> int:
    """Stop honouring an entry (it stays listed with --all, marked removed)."""
    from .egress import remove

    return remove(settings, egress_id, analyst)


@cli.command()
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


@cli.command()
@click.option("--since", help="Ingest from WHEN instead of each source's cursor.")
@store_options
def nightly(settings: Settings, since: str | None) -> int:
    """ingest → detect → digest in one process, for cron or a systemd timer. An OS lock beside
    the database makes an overlapping start exit 1 at once; one line per event on stderr.

    Example: tokensentry --db /var/lib/tokensentry/store.duckdb nightly
    """
    from .nightly_commands import run_nightly_command

    return run_nightly_command(settings, when(since))


@cli.command()
@click.option("--port", default=8501, show_default=True, type=int)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; anything but loopback belongs behind your SSO proxy.",
)
@store_options
def dashboard(settings: Settings, port: int, host: str) -> int:
    """Serve the Streamlit app on http://HOST:PORT (Ctrl-C stops it).

    Example: tokensentry dashboard --port 8501
    """
    from ..web.serve import exposure_warning, serve

    if not settings.db.exists():
        raise InputError(f"{settings.db}: no database yet; run `tokensentry demo` or `import`")
    warning = exposure_warning(host)
    if warning:
        click.echo(warning, err=True)
    return serve(settings.db, settings.config, port, host)


@cli.command()
@click.option("--no-serve", is_flag=True, help="Build the demo but do not start the dashboard.")
@click.option(
    "--dir",
    "demo_dir",
    default=Path("data/demo"),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the demo export and its config are written.",
)
@click.option("--port", default=8501, show_default=True, type=int)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The demo world's last day (default: yesterday, UTC); the same date gives the same "
    "alert ids.",
)
@store_options
def demo(
    settings: Settings, no_serve: bool, demo_dir: Path, port: int, as_of: datetime | None
) -> int:
    """The embedded default: a partner and seven subscriber orgs over 30 days with the planted
    stories of data/demo_stories.toml, ingested over HTTPS from a fake Salesforce and imported
    from exported files, detected, digested to DIR/outbox/, and shown in the dashboard.

    Example: tokensentry demo --no-serve --as-of 2026-05-12
    """
    from ..demo import run_demo

    return run_demo(
        settings,
        demo_dir,
        serve_port=None if no_serve else port,
        as_of=as_of.date() if as_of else None,
    )


@cli.command()
@click.option("--events", default=1_000_000, show_default=True, type=click.IntRange(min=1000))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the generated files here (default: a temporary folder).",
)
@click.option(
    "--stage",
    "stages",
    multiple=True,
    type=click.Choice(["import", "detect", "dashboard"]),
    help="Only this stage (repeatable; default import and detect). `dashboard` times every "
    "page's queries on a generated store of --dashboard-events events and --dashboard-alerts "
    "alerts.",
)
@click.option(
    "--dashboard-events", default=10_000_000, show_default=True, type=click.IntRange(min=1000)
)
@click.option(
    "--dashboard-alerts", default=100_000, show_default=True, type=click.IntRange(min=100)
)
@click.option(
    "--ingest-orgs",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Also time `ingest` of this many fake orgs over HTTPS (0: skip).",
)
@click.option(
    "--ingest-rows",
    default=50_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="LoginHistory rows per fake org for the ingest benchmark.",
)
@store_options
def bench(
    settings: Settings,
    events: int,
    fmt: str,
    workdir: Path | None,
    stages: tuple[str, ...],
    ingest_orgs: int,
    ingest_rows: int,
    dashboard_events: int,
    dashboard_alerts: int,
) -> int:
    """Benchmark import and detection on N generated events; prints throughput and peak RSS.
    With --stage dashboard: p50/p95 of every dashboard page's queries, cold and warm.

    Example: tokensentry bench --events 1000000 --format json
    """
    from ..bench import run_bench

    return run_bench(
        events,
        fmt,
        workdir,
        stages=stages or ("import", "detect"),
        ingest_orgs=ingest_orgs,
        ingest_rows=ingest_rows,
        dashboard_size=(dashboard_events, dashboard_alerts),
    )


cli.add_command(prune)  # retention: dashboard/cli/storage.py
cli.add_command(export)  # Parquet export: dashboard/cli/storage.py
