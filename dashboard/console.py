"""Rendering for the command line: tables for a terminal, JSON and CSV for pipes and scripts."""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

SEVERITY_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}
CSV_FIELDS = (
    "alert_id",
    "detector",
    "severity",
    "org_id",
    "app",
    "user_id",
    "ips",
    "first_seen",
    "last_seen",
    "event_count",
    "status",
    "summary",
    "evidence",
)


def stdout() -> Console:
    return Console(soft_wrap=not sys.stdout.isatty())


def stderr() -> Console:
    return Console(stderr=True)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def alerts_csv(records: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for record in records:
        writer.writerow(
            {**record, "ips": " ".join(record["ips"]), "evidence": json.dumps(record["evidence"])}
        )
    return buffer.getvalue()


def alerts_plain(records: list[dict[str, Any]]) -> str:
    """One alert per line, tab-separated: what `cut`, `grep` and `sort` want from a pipe."""
    columns = ("severity", "detector", "status", "last_seen", "event_count", "alert_id", "summary")
    lines = ["\t".join(columns)]
    lines += ["\t".join(str(record[c]) for c in columns) for record in records]
    return "\n".join(lines) + "\n"


def alerts_table(records: list[dict[str, Any]]) -> Table:
    table = Table(show_lines=False, expand=False, pad_edge=False)
    for name in ("severity", "detector", "status", "last seen (UTC)", "events", "alert", "summary"):
        table.add_column(name, overflow="fold")
    for record in records:
        table.add_row(
            f"[{SEVERITY_STYLE[record['severity']]}]{record['severity']}[/]",
            record["detector"],
            record["status"],
            (record["last_seen"] or "")[:16].replace("T", " "),
            str(record["event_count"]),
            record["alert_id"],
            record["summary"],
        )
    return table


INCIDENT_FIELDS = (
    "incident_id",
    "severity",
    "status",
    "org_id",
    "app",
    "user_id",
    "ips",
    "first_seen",
    "last_seen",
    "alert_count",
    "detectors",
    "summary",
)


def incidents_plain(records: list[dict[str, Any]]) -> str:
    columns = ("severity", "status", "alert_count", "last_seen", "incident_id", "summary")
    lines = ["\t".join(columns)]
    lines += ["\t".join(str(record[c]) for c in columns) for record in records]
    return "\n".join(lines) + "\n"


def incidents_table(records: list[dict[str, Any]]) -> Table:
    table = Table(show_lines=False, expand=False, pad_edge=False)
    for name in ("severity", "status", "alerts", "last seen (UTC)", "incident", "summary"):
        table.add_column(name, overflow="fold")
    for record in records:
        table.add_row(
            Text(record["severity"], style=SEVERITY_STYLE[record["severity"]]),
            Text(record["status"] + (" (reopened)" if record.get("reopened") else "")),
            Text(str(record["alert_count"])),
            Text((record["last_seen"] or "")[:16].replace("T", " ")),
            Text(record["incident_id"]),
            Text(record["summary"]),  # Text, not markup: summaries quote attacker strings
        )
    return table
