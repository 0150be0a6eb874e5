"""Run a detector over the stored history with other settings, without storing anything.

Detectors only read (`find` returns findings; the runner writes them), so a notebook can ask
"how many alerts with max_kmh = 700?" on a read-only store and choose thresholds with data.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import duckdb
import pandas as pd

from detect import egress, registry
from detect.detector import Context
from ingest.config import Config

FINDING_COLUMNS = ["severity", "org_id", "user_id", "ips", "first_seen", "last_seen", "summary"]


def findings(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    detector_id: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> pd.DataFrame:
    """What `detector_id` finds over every stored event with `overrides` on top of the
    configured settings (unknown keys or wrong types are refused, as in the config file)."""
    detector = registry.by_id()[detector_id]
    settings = registry.settings_for(
        detector, {**(config.detectors.get(detector_id) or {}), **(overrides or {})}
    )
    moment = now or datetime.now(UTC).replace(tzinfo=None)
    context = Context(
        con=con, config=config, settings=settings, now=moment,
        known_egress=egress.load(con, config, moment),
    )  # fmt: skip
    rows = [
        {
            "severity": f.severity or detector.severity,
            "org_id": f.org_id,
            "user_id": f.user_id,
            "ips": list(f.ips),
            "first_seen": f.first_seen_at,
            "last_seen": f.last_seen_at,
            "summary": f.summary,
        }
        for f in detector.find(context)
    ]
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def sweep(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    detector_id: str,
    grid: Mapping[str, Sequence[Any]],
    *,
    now: datetime | None = None,
) -> pd.DataFrame:
    """One row per combination of `grid` values: the settings, the alert count per severity,
    and the addresses those alerts name."""
    names = list(grid)
    rows = []
    for values in itertools.product(*(grid[name] for name in names)):
        overrides = dict(zip(names, values, strict=True))
        found = findings(con, config, detector_id, overrides, now=now)
        counts = found["severity"].value_counts()
        rows.append(
            {
                **overrides,
                "alerts": len(found),
                **{s: int(counts.get(s, 0)) for s in ("critical", "high", "medium", "low", "info")},
                "ips": sorted({ip for ips in found["ips"] for ip in ips}),
            }
        )
    return pd.DataFrame(rows)
