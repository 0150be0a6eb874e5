"""The dashboard stage's figures as a table for a terminal."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from .. import console as output


def print_dashboard(figures: dict[str, Any]) -> None:
    console = output.stdout()
    for key, value in figures.items():
        if key != "queries":
            console.print(f"dashboard.{key:32} {value}", highlight=False, markup=False)
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
    console.print(table)
