"""The readiness and health reports: `controls` (the verdicts of `/controls`) and `health`
(pipeline health, the answer of `/pipeline` and the digest; exit 1 when a source failed or is
stale, so an operator's monitoring can watch the nightly job)."""

from __future__ import annotations

import click

from ..settings import Settings
from .options import FORMATS, store_options


@click.command()
@click.option("--format", "fmt", type=FORMATS, default="table")
@store_options
def controls(settings: Settings, fmt: str) -> int:
    """Controls readiness per app and org (PKCE, rotation, idle timeout, allowlist,
    monitoring), each pass / fail / no evidence / not applicable, with its evidence rows.

    Example: tokensentry controls --format json
    """
    from .reports import show_controls

    return show_controls(settings, fmt)


@click.command()
@click.option("--format", "fmt", type=FORMATS, default="table")
@store_options
def health(settings: Settings, fmt: str) -> int:
    """Pipeline health per org × source: last success, usual cadence, age, state. Exits 1
    when a source failed or is stale.

    Example: tokensentry health || page-the-on-call
    """
    from .reports import show_health

    return show_health(settings, fmt)
