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
    type=click.Choice(["import", "detect", "dashboard", "ingest-scale"]),
    help="Only this stage (repeatable; default import and detect). `dashboard` times every "
    "page's queries on a generated store of --dashboard-events events and --dashboard-alerts "
    "alerts, then renders every page in headless Chromium. With --workdir the store is kept "
    "there and reused by the next run of the same sizes. `ingest-scale` ingests --scale-orgs "
    "small fake orgs with each of --scale-workers (README: Scaling to many orgs).",
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
    "--query-runs",
    default=10,
    show_default=True,
    type=click.IntRange(min=0),
    help="Warm runs of each dashboard page query, after up to 3 cold ones (0: do not time "
    "the queries, only render the pages).",
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
@click.option(
    "--latency-ms",
    default=150.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="The fake Salesforce's delay per response, for the ingest stages (0: none).",
)
@click.option(
    "--jitter-ms",
    default=50.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Each response's delay is drawn uniformly in latency ± jitter.",
)
@click.option(
    "--scale-orgs",
    default="100,1000",
    show_default=True,
    callback=lambda _c, _p, v: _counts(v, "--scale-orgs", 1, 100_000),
    help="ingest-scale: org counts, comma-separated.",
)
@click.option(
    "--scale-workers",
    default="4,16,64",
    show_default=True,
    callback=lambda _c, _p, v: _counts(v, "--scale-workers", 1, 64),
    help="ingest-scale: `ingest.workers` values, comma-separated (1-64).",
)
@click.option(
    "--scale-logins",
    default=300,
    show_default=True,
    type=click.IntRange(min=1),
    help="ingest-scale: LoginHistory rows (and Login ELF lines) per small org.",
)
@click.option(
    "--scale-max-cell-seconds",
    default=900.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="ingest-scale: a cell judged to outlast this runs with fewer orgs (and says so).",
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
    latency_ms: float,
    jitter_ms: float,
    scale_orgs: list[int],
    scale_workers: list[int],
    scale_logins: int,
    scale_max_cell_seconds: float,
    render_runs: int,
    query_runs: int,
) -> int:
    """Benchmark import and detection on N generated events; prints throughput and peak RSS.
    With --stage dashboard: p50/p95 of every dashboard page's queries, cold and warm, and
    the seconds each page takes to render fully in Chromium, cold and warm (target 2 s).
    With --stage ingest-scale: orgs per hour, CPU and the writer's share per orgs × workers.

    Example: tokensentry bench --events 1000000 --format json
    """
    from ..bench import run_bench
    from ..bench.ingest_scale import ScaleOptions

    return run_bench(
        events,
        fmt,
        workdir,
        stages=stages or ("import", "detect"),
        ingest_orgs=ingest_orgs,
        ingest_rows=ingest_rows,
        dashboard_size=(dashboard_events, dashboard_alerts),
        latency=(latency_ms, jitter_ms),
        scale=ScaleOptions(scale_orgs, scale_workers, scale_logins, scale_max_cell_seconds),
        render_runs=render_runs,
        query_runs=query_runs,
    )


def _counts(value: str, option: str, low: int, high: int) -> list[int]:
    try:
        counts = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"{option}: whole numbers separated by commas") from None
    if not counts or not all(low <= c <= high for c in counts):
        raise click.BadParameter(f"{option}: each between {low} and {high}")
    return counts
