"""Retention and export as the command line and the nightly job run them: the detectors'
minimum history (detect) checked before the store is pruned (ingest).

The nightly job already holds the nightly lock when it calls `nightly_prune`; `tokensentry
prune` takes it itself (dashboard/cli/storage.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from detect import history
from ingest import prune
from ingest.config import Config
from ingest.errors import TokensentryError


def check_retention(config: Config, days: int, key: str = "--older-than") -> None:
    """InputError (exit 2) naming the minimum when `days` would starve a detector."""
    need = history.minimum_retention(config)
    prune.check_retention(days, need.days, f"{need.detector_id}: {need.reason}", key)


def check_configured_retention(config: Config) -> None:
    """`[store] retention_days`, when set, must satisfy the detectors: checked at start."""
    if config.store.retention_days is not None:
        check_retention(config, config.store.retention_days, "store.retention_days =")


def describe(report: prune.PruneReport) -> str:
    counts = ", ".join(
        f"{t.table} {t.deleted:,} of {t.rows:,}"
        + (f" ({t.kept_old:,} older kept)" if t.kept_old else "")
        for t in report.tables
    )
    sizes = f"{mb(report.bytes_before)}"
    if report.bytes_after is not None:
        sizes += f" → {mb(report.bytes_after)} in {report.seconds:.1f} s"
    verb = "would delete" if report.dry_run else "deleted"
    return f"before {report.cutoff:%Y-%m-%d}: {verb} {counts}; store {sizes}"


def mb(size: int) -> str:
    return f"{size / 2**20:,.1f} MB"


def nightly_prune(
    db_path: Path, config: Config, *, now: Callable[[], datetime], log: Callable[[str], None]
) -> str | None:
    """The nightly stage: prune to `[store] retention_days` when set; a failure message or
    None. The caller holds the nightly lock."""
    days = config.store.retention_days
    if days is None:
        return None
    try:
        check_retention(config, days, "store.retention_days =")
        report = prune.prune(db_path, days=days, now=now())
    except TokensentryError as exc:
        log(f"prune: failed: {exc}")
        return f"prune failed: {exc}"
    log(f"prune: {describe(report)}")
    return None
