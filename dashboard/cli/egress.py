"""Bodies of `tokensentry egress add | list | remove`."""

from __future__ import annotations

import getpass
import sys
from datetime import timedelta
from typing import TYPE_CHECKING

from ingest import db
from ingest.errors import InputError
from ingest.timeparse import now_utc

from .. import console as output
from .. import queries

if TYPE_CHECKING:
    from ..settings import Settings

FIELDS = ("egress_id", "network", "app", "state", "expires_at", "added_by", "added_at", "note")


def add(
    settings: Settings,
    network: str,
    app_name: str | None,
    days: int,
    note: str | None,
    analyst: str | None,
    force: bool = False,
) -> int:
    """Print what the entry would silence, then record it, or refuse (exit 2) when it is
    unsafe and not forced (dashboard/queries/egress.py says why)."""
    now = now_utc()
    configured = list(settings.load_config().apps)
    with db.connect(settings.db) as con:
        preview = queries.would_silence(con, network, app_name=app_name)
        output.message(output.stderr(), "{}: {}", network, preview.describe())
        egress_id = queries.add_known_egress(
            con,
            network,
            app_name=app_name,
            expires_at=now + timedelta(days=days),
            analyst=analyst or getpass.getuser(),
            now=now,
            note=note,
            configured_apps=configured,
            force=force,
            via="cli",
        )
    output.message(
        output.stderr(),
        "{}: {} is known egress for {} days; the next `tokensentry detect` honours it",
        egress_id, network, days,
    )  # fmt: skip
    return 0


def list_entries(settings: Settings, include_inactive: bool, fmt: str) -> int:
    if not settings.db.exists():
        raise InputError(f"{settings.db}: no database yet; run `tokensentry demo` or `import`")
    with db.connect(settings.db, read_only=True) as con:
        frame = queries.known_egress(con, now_utc(), include_inactive=include_inactive)
    records = [
        {name: (None if value != value else value) for name, value in row.items()}  # NaN → None
        for row in frame.astype(object).to_dict(orient="records")
    ]
    if fmt == "json":
        output.print_json(records)
    elif fmt == "csv":
        sys.stdout.write(queries.rows_csv(records, FIELDS))
    elif not records:
        output.stderr().print("no known egress recorded")
    elif sys.stdout.isatty():
        output.stdout().print(output.records_table(records, FIELDS))
    else:  # one entry per line, tab-separated, every value escaped like `alerts`
        sys.stdout.write(output.records_plain(records, FIELDS))
    return 0


def remove(settings: Settings, egress_id: str, analyst: str | None) -> int:
    with db.connect(settings.db) as con:
        removed = queries.remove_known_egress(
            con, egress_id, analyst=analyst or getpass.getuser(), now=now_utc()
        )
    if not removed:
        raise InputError(
            f"known egress {egress_id}: no active entry (see `tokensentry egress list`)"
        )
    output.message(output.stderr(), "{}: removed", egress_id)
    return 0
