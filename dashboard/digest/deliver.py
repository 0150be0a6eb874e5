"""`tokensentry digest`: collect, build, then send exactly once (or write with --dry-run).

The store is opened read-write twice, briefly: once to read what is new and record the attempt,
once to record the server's answer; the SMTP conversation in between holds no database lock,
so the dashboard's triage writes are never blocked by a slow mail server.
"""

from __future__ import annotations

import email.message
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ingest import db, runs
from ingest.config import Config
from ingest.runs import new_run_id

from . import state
from .content import DigestContent, collect
from .message import build_message, recipients, write_eml
from .smtp import DeliveryError, check_ready, send

Log = Callable[[str], None]


@dataclass(frozen=True)
class DigestOutcome:
    status: str  # sent | written | skipped | failed
    alerts: int
    detail: str


def run_digest(
    db_path: Path,
    config: Config,
    *,
    now: Callable[[], datetime],
    log: Log,
    since: datetime | None = None,
    dry_run: Path | None = None,
    to: tuple[str, ...] = (),
    resend: bool = False,
    partial: bool = False,
    notes: tuple[str, ...] = (),
) -> DigestOutcome:
    if dry_run is not None:
        with db.connect(db_path) as con:
            content = collect(
                con, config, now=now(), since=since, resend=resend, partial=partial, notes=notes
            )
        chosen = to or config.digest.to
        message = build_message(content, config, recipients(config.digest, to) if chosen else ())
        write_eml(dry_run, message)
        detail = f"wrote {dry_run} ({len(content.alerts)} alert(s)); nothing sent or recorded"
        log(detail)
        return DigestOutcome("written", len(content.alerts), detail)
    chosen_to = recipients(config.digest, to)
    check_ready(config.digest, chosen_to)
    _finish_unfinished(db_path, config, now=now, log=log)
    with db.connect(db_path) as con:
        content = collect(
            con, config, now=now(), since=since, resend=resend, partial=partial, notes=notes
        )
        if content.is_empty and not config.digest.send_when_empty:
            detail = "nothing new since the last digest; none sent (send_when_empty = false)"
            log(detail)
            return DigestOutcome("skipped", 0, detail)
        message = build_message(content, config, chosen_to)
        attempt_id = state.begin(con, content, message, chosen_to)
        run_id = new_run_id(content.now)
        runs.start(con, run_id=run_id, stage="digest", unit_id="email", now=content.now)
    return _deliver(db_path, config, content, message, chosen_to, attempt_id, run_id, now, log)


def _deliver(
    db_path: Path,
    config: Config,
    content: DigestContent,
    message: email.message.EmailMessage,
    to: tuple[str, ...],
    attempt_id: str,
    run_id: str,
    now: Callable[[], datetime],
    log: Log,
) -> DigestOutcome:
    subject = message["Subject"]
    try:
        refused = send(message, config.digest, to)
    except DeliveryError as exc:
        with db.connect(db_path) as con:
            state.mark_failed(con, attempt_id, str(exc))
            runs.finish(
                con, run_id=run_id, stage="digest", unit_id="email", status="failed",
                now=now(), error=str(exc),
            )  # fmt: skip
        log(f"not sent, nothing marked sent; the next run includes its alerts: {exc}")
        return DigestOutcome("failed", len(content.alerts), str(exc))
    with db.connect(db_path) as con:
        state.mark_sent(con, attempt_id, now())
        runs.finish(
            con, run_id=run_id, stage="digest", unit_id="email",
            status="partial" if refused else "ok", now=now(), rows_new=len(content.alerts),
            error=_refused_text(refused) if refused else None,
        )  # fmt: skip
    accepted = [address for address in to if address not in refused]
    detail = f"sent {subject!r} to {', '.join(accepted)} ({message['Message-ID']})"
    log(detail)
    if refused:
        log(f"the server refused some recipients: {_refused_text(refused)}")
        return DigestOutcome("failed", len(content.alerts), _refused_text(refused))
    return DigestOutcome("sent", len(content.alerts), detail)


def _finish_unfinished(
    db_path: Path, config: Config, *, now: Callable[[], datetime], log: Log
) -> None:
    """Re-send, byte for byte, an attempt a crash left unrecorded. If the server had accepted
    it, the copy carries the same Message-ID and mail systems drop it; if not, this is its
    delivery. Refused again: marked failed, so its alerts return to the next digest."""
    with db.connect(db_path) as con:
        leftovers = state.unfinished(con)
    for leftover in leftovers:
        log(f"re-sending {leftover.message_id}, left unrecorded by an interrupted run")
        try:
            send(leftover.message, config.digest, leftover.recipients)
        except DeliveryError as exc:
            with db.connect(db_path) as con:
                state.mark_failed(con, leftover.attempt_id, str(exc))
            log(f"re-send of {leftover.message_id} failed: {exc}")
            continue
        with db.connect(db_path) as con:
            state.mark_sent(con, leftover.attempt_id, now())


def _refused_text(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{address}: {code} {text.decode('utf-8', 'replace')}"
        for address, (code, text) in refused.items()
    )
