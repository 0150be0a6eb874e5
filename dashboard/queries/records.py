"""Turning one DuckDB row into a plain dict (JSON evidence parsed), shared by the detail views."""

from __future__ import annotations

import json
from typing import Any

import duckdb


def one_record(cursor: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    row = cursor.fetchone()
    if row is None:
        return None
    names = [d[0] for d in cursor.description]  # type: ignore[union-attr]
    record = dict(zip(names, row, strict=True))
    if isinstance(record.get("evidence"), str):
        record["evidence"] = json.loads(record["evidence"])
    return record
