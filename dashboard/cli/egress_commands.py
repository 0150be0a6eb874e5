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
@click.option("--days", default=90, show_default=True, type=click.IntRange(1, 3650),
              help="Expiry; more than 365 is refused unless --force.")  # fmt: skip
@click.option("--note", help="Why it is the partner's (kept with the entry).")
@click.option("--analyst", help="Who decided (default: $USER).")
@click.option("--force", is_flag=True,
              help="Record even a block wider than a /24 (IPv6 /64), an unknown app or an expiry "
                   "past 365 days; the override is written to the audit log.")  # fmt: skip
@store_options
def egress_add(
    settings: Settings,
    network: str,
    app_name: str | None,
    days: int,
    note: str | None,
    analyst: str | None,
    force: bool,
) -> int:
    """Record NETWORK (address, CIDR or start-end) as known egress for DAYS, after printing the
    open alerts it would silence."""
    from .egress import add

    return add(settings, network, app_name, days, note, analyst, force)


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
