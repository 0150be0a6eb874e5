"""Quoting for the SQL tokensentry composes (column names come from files, so always quote)."""

from __future__ import annotations

from datetime import datetime


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def timestamp_literal(moment: datetime) -> str:
    return f"CAST({quote_literal(moment.isoformat())} AS TIMESTAMP)"
