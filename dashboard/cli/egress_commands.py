"""`egress add | list | remove`: known egress with an expiry (CONTRACT §2)."""

from __future__ import annotations

import click

from ..settings import Settings
from .options import FORMATS, store_options


@click.group()
def egress() -> None:
    """Known egress: addresses judged to be the partner's own, honoured by the detectors and by
    incident linking until they expire.

    Example: tokensentry egress add 198.51.100.7 --app "Acme Sync" --days 90 --note "new NAT"
    """


@egress.command(name="add")
@click.argument("network")
@click.option("--app", "app_name", help="Only for this app (default: any app).")
@click.option("--days", default=90, show_default=True, type=click.IntRange(1, 3650))
@click.option("--note", help="Why it is the partner's (kept with the entry).")
@click.option("--analyst", help="Who decided (default: $USER).")
@store_options
def egress_add(
    settings: Settings,
    network: str,
    app_name: str | None,
    days: int,
    note: str | None,
    analyst: str | None,
) -> int:
    """Record NETWORK (address, CIDR or start-end) as known egress for DAYS."""
    from .egress import add

    return add(settings, network, app_name, days, note, analyst)


@egress.command(name="list")
@click.option("--all", "include_inactive", is_flag=True, help="Also expired and removed entries.")
@click.option("--format", "fmt", type=FORMATS, default="table")
@store_options
def egress_list(settings: Settings, include_inactive: bool, fmt: str) -> int:
    """List known egress entries."""
    from .egress import list_entries

    return list_entries(settings, include_inactive, fmt)


@egress.command(name="remove")
@click.argument("egress_id")
@click.option("--analyst", help="Who decided (default: $USER).")
@store_options
def egress_remove(settings: Settings, egress_id: str, analyst: str | None) -> int:
    """Stop honouring an entry (it stays listed with --all, marked removed)."""
    from .egress import remove

    return remove(settings, egress_id, analyst)
