"""Showing the store: `dashboard` serves the Streamlit app, `demo` builds one to show."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from ingest.errors import InputError

from ..settings import Settings
from .options import store_options


@click.command()
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


@click.command()
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
