"""Bodies of the `digest` and `nightly` commands: settings in, the library, an exit status."""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.errors import ConfigError, InputError
from ingest.timeparse import now_utc

if TYPE_CHECKING:
    from ..settings import Settings


def run_digest_command(
    settings: Settings,
    since: datetime | None,
    dry_run: Path | None,
    to: tuple[str, ...],
    resend: bool,
) -> int:
    from ..digest import run_digest
    from ..nightly import NightlyLocked, nightly_lock
    from ..nightly.job import line_logger

    if not settings.db.exists():
        raise InputError(f"{settings.db}: no database yet; run `tokensentry import` or `ingest`")
    config = settings.load_config()
    if not config.digest.enabled and dry_run is None:
        raise ConfigError(
            f"{settings.config}: [digest] enabled = false: nothing is mailed; write the message "
            "it would send with --dry-run FILE.eml"
        )
    log = line_logger("digest")
    # A dry run records nothing, so it needs no lock; a real one must not race the night's run.
    lock = contextlib.nullcontext() if dry_run else nightly_lock(settings.db)
    try:
        with lock:
            outcome = run_digest(
                settings.db,
                config,
                now=now_utc,
                log=log,
                since=since,
                dry_run=dry_run,
                to=to,
                resend=resend,
            )
    except NightlyLocked as exc:
        log(str(exc))
        return 1
    return 1 if outcome.status == "failed" else 0


def run_nightly_command(settings: Settings, since: datetime | None) -> int:
    from detect import registry

    from ..digest.message import recipients
    from ..digest.smtp import check_ready
    from ..nightly import NightlyLocked, run_nightly
    from ..nightly.job import stderr_log
    from ..store_maintenance import check_configured_retention

    # A broken configuration exits 2 before taking the lock, not after a night of work.
    config = settings.load_config()
    registry.check_config(config)
    check_configured_retention(config)
    if config.digest.enabled:
        check_ready(config.digest, recipients(config.digest))
    try:
        return run_nightly(settings.db, config, now=now_utc, since=since)
    except NightlyLocked as exc:  # one log line, like every other nightly event
        stderr_log(str(exc))
        return 1
