"""The dashboard stage's figures as tables for a terminal."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from .. import console as output


def print_dashboard(figures: dict[str, Any]) -> None:
    console = output.stdout()
    for key, value in figures.items():
        if key not in ("queries", "pages"):
            console.print(f"dashboard.{key:32} {value}", highlight=False, markup=False)
    if "queries" in figures:
        print_queries(figures)
    if "pages" in figures:
        print_pages(figures["pages"])


def print_queries(figures: dict[str, Any]) -> None:
    table = Table(pad_edge=False, title="dashboard queries (ms)")
    for name in ("page/query", "cold p50", "cold p95", "warm p50", "warm p95", "note"):
        table.add_column(name, justify="left" if name in ("page/query", "note") else "right")
    target = figures.get("target_warm_p95_ms", 300.0)
    for key, result in figures["queries"].items():
        note = (
            "not in this checkout"
            if result.get("missing")
            else result.get("error", "over target" if result.get("warm_p95_ms", 0) > target else "")
        )
        table.add_row(
            Text(key),
            *(
                Text(str(result.get(f, "")))
                for f in ("cold_p50_ms", "cold_p95_ms", "warm_p50_ms", "warm_p95_ms")
            ),
            Text(note),
        )
    output.stdout().print(table)


def print_pages(rendered: dict[str, Any]) -> None:
    """Seconds to a fully rendered page in Chromium, or why there are none."""
    console = output.stdout()
    if "pages" not in rendered:
        reason = rendered.get("skipped") or rendered.get("error")
        console.print(f"dashboard pages: {reason}", highlight=False, markup=False)
        return
    target = rendered["target_s"]
    table = Table(
        pad_edge=False,
        title=f"dashboard pages fully rendered in Chromium (s; warm ×{rendered['warm_runs']}, "
        f"target ≤ {target:g} s)",
        caption=f"the app's start-up {rendered['startup_s']} s; an empty page warm "
        f"{rendered['empty_page_warm_s']} s ({rendered['empty_page_warm_cpu_s']} s cpu); "
        f"load average {rendered['load_average']}; cpu: the dashboard's and the browser's "
        "CPU seconds for the load",
    )
    columns = ("cold_s", "cold_cpu_s", "warm_p50_s", "warm_max_s", "warm_cpu_p50_s")
    for name in ("page", "cold", "cold cpu", "warm p50", "warm max", "warm cpu", "note"):
        table.add_column(name, justify="right" if name.startswith(("cold", "warm")) else "left")
    for name, result in rendered["pages"].items():
        note = result.get("error") or ("OVER TARGET" if result["warm_max_s"] > target else "")
        table.add_row(
            Text(name),  # the path is in --format json
            *(Text(str(result.get(f, ""))) for f in columns),
            Text(note),
        )
    console.print(table)


SCALE_COLUMNS = {
    "orgs": "orgs",
    "workers": "workers",
    "seconds": "wall s",
    "orgs_per_hour": "orgs/h",
    "rows_per_s": "rows/s",
    "cpu_seconds": "cpu s",
    "cpu_per_wall": "cpu/wall",
    "writer_busy_per_wall": "writer busy",
    "peak_rss_mb": "peak MB",
    "fake_cpu_seconds": "fake cpu s",
    "failed_units": "failed",
}


def print_ingest_scale(figures: dict[str, Any]) -> None:
    """One row per orgs × workers; `writer busy` near 1 means the single writer is the limit."""
    table = Table(
        pad_edge=False,
        title=f"ingest-scale: {figures['logins_per_org']} logins per org, latency "
        f"{figures['latency_ms']:g} ± {figures['jitter_ms']:g} ms",
    )
    for title in SCALE_COLUMNS.values():
        table.add_column(title, justify="right")
    for cell in figures["cells"]:
        values = {key: cell.get(key, "") for key in SCALE_COLUMNS}
        if "orgs_requested" in cell:
            values["orgs"] = f"{cell['orgs']} (of {cell['orgs_requested']})"
        table.add_row(*(Text(str(v)) for v in values.values()))
    output.stdout().print(table)
