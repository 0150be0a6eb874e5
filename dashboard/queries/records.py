"""Turning DuckDB rows into plain dicts (JSON evidence parsed, timestamps as ISO 8601 UTC text),
shared by the detail views and the JSON records of alerts and incidents."""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pandas as pd


def one_record(cursor: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    row = cursor.fetchone()
    if row is None:
        return None
    names = [d[0] for d in cursor.description]  # type: ignore[union-attr]
    record = dict(zip(names, row, strict=True))
    if isinstance(record.get("evidence"), str):
        record["evidence"] = json.loads(record["evidence"])
    return record


def iso_z(moment: Any) -> str | None:
    """A timestamp as `2024-05-01T12:00:00.000Z` (CONTRACT §5); NULL/NaT as None."""
    if moment is None or (isinstance(moment, float) and pd.isna(moment)) or moment is pd.NaT:
        return None
    return pd.Timestamp(moment).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
