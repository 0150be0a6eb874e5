"""`bench --stage ingest-scale`: how ingest carries many small orgs as `workers` grows.

Every cell (orgs × workers) runs in a fresh spawned process against a fresh fake (itself a
process of its own, answering after `latency`), so each cell's CPU seconds and peak RSS are its
own. A cell that would outlast `max_cell_seconds`, judged from the same workers' smaller cell,
runs with as many orgs as fit and says so (`orgs_requested`).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.fakesf.latency import Latency


@dataclass(frozen=True)
class ScaleOptions:
    orgs: list[int]
    workers: list[int]
    logins: int = 300  # LoginHistory rows (and Login ELF lines) per small org
    max_cell_seconds: float = 900.0


def _cell(channel: Any, orgs: int, rows: int, workers: int, latency: Latency) -> None:
    from .ingest import measure

    channel.put(measure(orgs, rows, kind="small", workers=workers, latency=latency))


def run_cell(orgs: int, rows: int, workers: int, latency: Latency) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    channel = context.Queue()
    process = context.Process(target=_cell, args=(channel, orgs, rows, workers, latency))
    process.start()
    try:
        while True:
            try:
                return channel.get(timeout=5)
            except Exception:  # queue.Empty: still running, unless the cell died
                if not process.is_alive():
                    raise RuntimeError(
                        f"ingest-scale cell {orgs} orgs × {workers} workers died "
                        f"(exit code {process.exitcode})"
                    ) from None
    finally:
        process.join(timeout=60)


def measure_scale(
    options: ScaleOptions, latency: Latency, progress: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    cells: list[dict[str, Any]] = []
    for workers in options.workers:
        seconds_per_org: float | None = None
        for orgs in sorted(options.orgs):
            run = orgs
            budget = options.max_cell_seconds
            if seconds_per_org is not None and seconds_per_org * orgs > budget:
                run = max(1, int(budget / seconds_per_org))
            progress(f"ingest-scale: {run} small orgs × {workers} workers …")
            cell = run_cell(run, options.logins, workers, latency)
            if run != orgs:
                cell["orgs_requested"] = orgs
            seconds_per_org = cell["seconds"] / run
            cells.append(cell)
    return {
        "latency_ms": latency.ms,
        "jitter_ms": latency.jitter_ms,
        "logins_per_org": options.logins,
        "max_cell_seconds": options.max_cell_seconds,
        "cells": cells,
    }
