"""What every `tokensentry` command shares: --db/--config after the command, exit statuses
from errors (CONTRACT §2: 2 for usage and configuration, 1 for a failed unit), WHEN parsing."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ingest.errors import ConfigError, InputError, TokensentryError
from ingest.timeparse import now_utc, parse_when

from .. import console as output
from ..settings import Settings

FORMATS = click.Choice(["table", "json", "csv"])


def store_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Accept --db/--config after the command too (`tokensentry alerts --db x`)."""

    @click.option(
        "--db",
        "db_override",
        type=click.Path(dir_okay=False, path_type=Path),
        help="DuckDB file (overrides the global --db).",
    )
    @click.option(
        "--config",
        "config_override",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Configuration file (overrides the global --config).",
    )
    @click.pass_obj
    @functools.wraps(command)
    def wrapper(
        settings: Settings, db_override: Path | None, config_override: Path | None, **kwargs: Any
    ) -> Any:
        if db_override:
            settings.db = db_override
        if config_override:
            settings.config = config_override
        try:
            code = command(settings, **kwargs)
        except (ConfigError, InputError) as exc:
            output.stderr().print(f"[red]error:[/] {output.markup_safe(exc)}", highlight=False)
            sys.exit(2)
        except TokensentryError as exc:
            output.stderr().print(f"[red]error:[/] {output.markup_safe(exc)}", highlight=False)
            sys.exit(1)
        sys.exit(code or 0)

    return wrapper


def when(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return parse_when(text, now_utc())
    except ValueError as exc:
        raise InputError(f"--since: {exc}") from None
