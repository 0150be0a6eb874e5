"""The nightly digest email: what is new since the last digest that was actually sent.

- `content.collect(con, config, now=...)` reads the store (dashboard.queries.digest) into plain
  data; `message.build_message(content, config, to)` renders it (render.py, templates/) into a
  multipart/alternative `EmailMessage`; `build(con, ...)` does both.
- `smtp.send` hands it to the server; `state` records attempts so each alert state is mailed
  exactly once; `deliver.run_digest` is the `tokensentry digest` command's body.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage

import duckdb

from ingest.config import Config

from .content import DigestContent, collect
from .deliver import DigestOutcome, run_digest
from .message import build_message, write_eml


def build(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    *,
    now: datetime,
    since: datetime | None = None,
    to: tuple[str, ...] = (),
    partial: bool = False,
) -> EmailMessage:
    """The digest the next run would send, as an `EmailMessage` (reads only)."""
    content = collect(con, config, now=now, since=since, partial=partial)
    return build_message(content, config, to or config.digest.to)


__all__ = [
    "DigestContent",
    "DigestOutcome",
    "build",
    "build_message",
    "collect",
    "run_digest",
    "write_eml",
]
