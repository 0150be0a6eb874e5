"""Bodies of `controls` and `health`: the shared queries, printed as JSON, CSV or a table.

A table escapes every attacker-chosen string (app names, error texts) through `console.plain`;
JSON and CSV carry times in ISO 8601 UTC.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from ingest import db
from ingest.errors import InputError
from ingest.timeparse import now_utc

from .. import console as output
from .. import queries, timefmt
from ..queries import controls as controls_queries
from ..queries import health as health_queries

if TYPE_CHECKING:
    from ..settings import Settings

VERDICT_STYLE = {"pass": "green", "fail": "bold red", "no evidence": "yellow"}
STATE_STYLE = {"failed": "bold red", "stale": "red", "not available": "dim", "ok": "green"}
CONTROL_FIELDS = (
    "app", "org_id", "scope", "control", "verdict", "suspected", "reason", "counter_examples",
    "positive_evidence", "window_start", "window_end", "evidence",
)  # fmt: skip
CONTROL_COLUMNS = ("app", "org", "control", "verdict", "reason")
HEALTH_FIELDS = (
    "org_id", "org", "source", "state", "last_success", "cadence", "cadence_hours",
    "cadence_from", "age", "age_hours", "last_status", "last_error",
)  # fmt: skip
HEALTH_COLUMNS = ("state", "org", "source", "last_success", "cadence", "age", "last_error")


def _store(settings: Settings) -> None:
    if not settings.db.exists():
        raise InputError(f"{settings.db}: no database yet; run `tokensentry demo` or `import`")


def _labels(config: Any) -> dict[str, str]:
    return {org.org_id: alias for alias, org in config.orgs.items() if org.org_id}


def show_controls(settings: Settings, fmt: str) -> int:
    _store(settings)
    config = settings.load_config()
    with db.connect(settings.db, read_only=True) as con:
        frame = queries.controls_readiness(con, config)
    records = controls_queries.controls_records(frame)
    labels = _labels(config)
    for record in records:
        record["org"] = labels.get(record["org_id"], record["org_id"]) or "all orgs"
    if fmt == "json":
        output.print_json(records)
    elif fmt == "csv":
        flat = [{**r, "evidence": json.dumps(r["evidence"])} for r in records]
        sys.stdout.write(_csv(flat, CONTROL_FIELDS))
    elif not records:
        output.stderr().print("no configured app used OAuth in the window")
    else:
        rows = [
            {**r, "verdict": r["verdict"] + (" (suspected)" if r["suspected"] else "")}
            for r in records
        ]
        _table(rows, CONTROL_COLUMNS, "verdict", VERDICT_STYLE)
    return 0


def show_health(settings: Settings, fmt: str) -> int:
    _store(settings)
    config = settings.load_config()
    with db.connect(settings.db, read_only=True) as con:
        health = queries.pipeline_health(con, now_utc(), config)
    records = health_queries.health_records(health)
    labels = _labels(config)
    for record in records:
        record["org"] = labels.get(record["org_id"], record["org_id"])
    if fmt == "json":
        output.print_json(records)
    elif fmt == "csv":
        sys.stdout.write(_csv(records, HEALTH_FIELDS))
    elif not records:
        output.stderr().print("no ingest or import has run yet")
    else:
        shown = [{**r, "last_success": (r["last_success"] or "never")[:16]} for r in records]
        _table(shown, HEALTH_COLUMNS, "state", STATE_STYLE)
    return 1 if not health_queries.problems(health).empty else 0


def _csv(records: list[dict[str, Any]], fields: tuple[str, ...]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for record in records:
        writer.writerow({name: output.csv_cell(record.get(name)) for name in fields})
    return buffer.getvalue()


def _table(
    records: list[dict[str, Any]], columns: tuple[str, ...], key: str, styles: dict[str, str]
) -> None:
    """A table on a terminal, tab-separated lines in a pipe; every cell plain, escaped text."""
    if not sys.stdout.isatty():
        lines = ["\t".join(columns)]
        lines += ["\t".join(output.plain(r.get(c)) for c in columns) for r in records]
        sys.stdout.write("\n".join(lines) + "\n")
        return
    table = Table(show_lines=False, expand=False, pad_edge=False)
    zone = timefmt.local_zone()
    for name in columns:
        table.add_column(name.replace("_", " "), overflow="fold")
    for record in records:
        style = styles.get(str(record[key]).split(" (")[0], "")
        table.add_row(
            *(Text(output.cell(record.get(c), zone), style=style if c == key else "")
              for c in columns)
        )  # fmt: skip
    output.stdout().print(table)
