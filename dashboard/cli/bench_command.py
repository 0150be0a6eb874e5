"""`bench`: throughput, peak memory and dashboard latency on generated data."""

from __future__ import annotations

from pathlib import Path

import click

from ..settings import Settings
from .options import store_options


@click.command()
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
    "alerts, then renders every page in headless Chromium. With --workdir the store is kept "
    "there and reused by the next run of the same sizes.",
)
@click.option(
    "--dashboard-events", default=10_000_000, show_default=True, type=click.IntRange(min=1000)
)
@click.option(
    "--dashboard-alerts", default=100_000, show_default=True, type=click.IntRange(min=100)
)
@click.option(
    "--render-runs",
    default=3,
    show_default=True,
    type=click.IntRange(min=0),
    help="Warm renders of each page in Chromium after its cold one (0: do not render).",
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
    render_runs: int,
) -> int:
    """Benchmark import and detection on N generated events; prints throughput and peak RSS.
    With --stage dashboard: p50/p95 of every dashboard page's queries, cold and warm, and
    the seconds each page takes to render fully in Chromium, cold and warm (target 2 s).

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
        render_runs=render_runs,
    )
