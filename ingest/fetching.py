"""One org's side of `tokensentry ingest`: run on a fetch thread, it signs in, checks limits
and permissions, and pulls each source from where the store left off, sending the batches as
`Message`s to the writer thread (`ingestion`). It never writes to the store; it only reads the
cursors on a connection of its own.
"""

from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from . import permissions
from .config import Config, OrgConfig
from .errors import TokensentryError
from .salesforce import LimitExceeded, NotAvailable, OrgSession
from .source import FetchContext, Source

INGESTED = "run_id IN (SELECT run_id FROM runs WHERE stage = 'ingest')"


class Stopped(BaseException):
    """The writer is gone (crash, Ctrl-C): fetch threads stop at their next batch."""


@dataclass
class Message:
    kind: str  # start | batch | sync | end
    alias: str
    source: str
    org_id: str | None = None
    batch: object = None
    status: str | None = None
    error: str | None = None


def fetch_org(
    org: OrgConfig,
    sources: dict[str, Source],
    config: Config,
    con: duckdb.DuckDBPyConnection,
    messages: queue.Queue[Message],
    stop: threading.Event,
    since: datetime | None,
    now: datetime,
    workdir: Path,
) -> None:
    """Fetch one org's sources; every unit is a `start`, its batches, then an `end` message.
    A broken setting, a sign-in failure or a spent API limit fails or skips its units only."""

    def put(message: Message) -> None:
        while not stop.is_set():
            try:
                messages.put(message, timeout=0.2)
                return
            except queue.Full:
                continue
        raise Stopped()

    unknown = [s for s in org.sources or () if s not in sources]
    problem = org.connection_error or (
        f"orgs.{org.alias}.sources: unknown {', '.join(unknown)} (known: {', '.join(sources)})"
        if unknown
        else None
    )
    if problem:  # this org's settings are broken: its units fail, the other orgs run
        for source_id in org.sources or list(sources):
            put(Message("start", org.alias, source_id, org.org_id))
            put(Message("end", org.alias, source_id, status="failed", error=problem))
        return
    chosen = [sources[s] for s in org.sources] if org.sources else list(sources.values())
    chosen.sort(key=lambda source: source.after_org_writes)  # stable: config order otherwise
    options = config.ingest
    try:
        session = OrgSession(
            org,
            timeout=options.timeout_s,
            reserve=options.api_reserve,
            retry_wait=options.retry_wait_s,
        )
        session.check_limits_first()
    except Stopped:
        raise
    except LimitExceeded as exc:
        for source in chosen:
            put(Message("start", org.alias, source.id, org.org_id))
            put(Message("end", org.alias, source.id, status="skipped", error=str(exc)))
        return
    except Exception as exc:
        for source in chosen:
            put(Message("start", org.alias, source.id, org.org_id))
            put(Message("end", org.alias, source.id, status="failed", error=reason(exc)))
        return
    org_id = session.org_id
    if org.org_id and org.org_id != org_id:
        error = f"orgs.{org.alias}.org_id is {org.org_id} but the credentials reach {org_id}"
        for source in chosen:
            put(Message("start", org.alias, source.id, org.org_id))
            put(Message("end", org.alias, source.id, status="failed", error=error))
        return
    granted = permissions.check(session)
    stopped_by: str | None = None
    for source in chosen:
        put(Message("start", org.alias, source.id, org_id))
        if stopped_by:
            put(Message("end", org.alias, source.id, status="skipped", error=stopped_by))
            continue
        for notice in permissions.notices(source.id, granted):
            put(Message("batch", org.alias, source.id, batch=notice))
        try:
            if source.after_org_writes:
                _wait_for_writes(put, stop, org.alias, source.id)
            context = _context(con, source, org_id, since, now, options, workdir)
            for batch in source.fetch(session, context):
                put(Message("batch", org.alias, source.id, batch=batch))
            put(Message("end", org.alias, source.id, status="ok"))
        except Stopped:
            raise
        except NotAvailable as exc:
            put(Message("end", org.alias, source.id, status="not_available", error=str(exc)))
        except LimitExceeded as exc:
            stopped_by = str(exc)
            put(Message("end", org.alias, source.id, status="limit_exceeded", error=str(exc)))
        except Exception as exc:
            put(Message("end", org.alias, source.id, status="failed", error=reason(exc)))


def _wait_for_writes(
    put: Callable[[Message], None], stop: threading.Event, alias: str, source_id: str
) -> None:
    """Block until the writer has handled every message this org sent before: it answers a
    `sync` message in queue order, so the org's earlier units are stored when it does."""
    written = threading.Event()
    put(Message("sync", alias, source_id, batch=written))
    while not written.wait(0.2):
        if stop.is_set():
            raise Stopped()


def reason(exc: Exception) -> str:
    """A failure as the unit's error: the message of ours, otherwise the exception's type too."""
    if isinstance(exc, TokensentryError):
        return str(exc)
    return "internal error: " + "".join(traceback.format_exception_only(exc)).strip()


def _context(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    org_id: str,
    since: datetime | None,
    now: datetime,
    options,
    workdir: Path,
) -> FetchContext:
    """Where this org × source resumes: --since, else its cursor minus the lag, else lookback."""
    reader = con.cursor()  # its own connection: reads committed data while the writer writes
    try:
        # Only rows an `ingest` run stored count: an imported export shares the source id but
        # says nothing about what this org's API has already delivered.
        cursor = reader.execute(
            f"SELECT max(occurred_at) FROM raw_records WHERE org_id = ? AND source_id = ? "
            f"AND {INGESTED}",
            [org_id, source.cursor_source],
        ).fetchone()[0]  # type: ignore[index]
        start = since or (
            cursor - source.lag if cursor else now - timedelta(days=options.lookback_days)
        )
        known: frozenset[str] = frozenset()
        if source.known_ids:
            known = frozenset(
                row[0]
                for row in reader.execute(
                    "SELECT record_id FROM raw_records WHERE org_id = ? AND source_id = ? "
                    f"AND occurred_at >= ? AND {INGESTED}",
                    [org_id, source.cursor_source, start - timedelta(days=2)],
                ).fetchall()
            )
        state = source.prepare(reader, org_id) if source.prepare else None
    finally:
        reader.close()
    return FetchContext(
        org_id=org_id,
        since=start,
        now=now,
        options=options,
        workdir=workdir,
        known_records=known,
        state=state,
    )
