"""The detector contract: what a detector declares, what it receives, what it returns."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import duckdb

from ingest.config import Config

from .egress import KnownEgress

Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Finding:
    """One alert's worth of evidence. The runner turns `dedup_key` into a stable alert id."""

    dedup_key: str
    summary: str
    first_seen_at: datetime
    last_seen_at: datetime
    event_ids: Sequence[str]
    evidence: Mapping[str, Any]
    org_id: str | None = None
    app_name: str | None = None
    user_id: str | None = None
    ips: Sequence[str] = ()
    severity: Severity | None = None  # None: the detector's default


@dataclass(frozen=True)
class Context:
    """What `find` may use. `find` only reads: the runner writes alerts and run rows."""

    con: duckdb.DuckDBPyConnection
    config: Config
    settings: Mapping[str, Any]
    now: datetime
    since: datetime | None = None  # scan events that occurred at or after this (None: all)
    changed_since: datetime | None = None  # ...and were loaded or enriched since (None: all)
    # Addresses the partner owns besides its allowlists (config + analyst-recorded, unexpired).
    known_egress: KnownEgress = field(default_factory=KnownEgress)

    def scope_sql(self, alias: str = "e") -> str:
        """SQL predicate selecting the events this scan covers."""
        clauses = ["true"]
        if self.since is not None:
            clauses.append(f"{alias}.occurred_at >= TIMESTAMP '{self.since.isoformat(sep=' ')}'")
        if self.changed_since is not None:
            clauses.append(
                f"{alias}.updated_at >= TIMESTAMP '{self.changed_since.isoformat(sep=' ')}'"
            )
        return " AND ".join(clauses)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a query and return its rows as dicts keyed by column name."""
        cursor = self.con.execute(sql, list(params))
        names = [d[0] for d in cursor.description]  # type: ignore[union-attr]
        return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]

    def geo(self):  # -> detect.geo.Locator (imported here: geoip2 opens a 60 MB database)
        from .geo import locator_for

        return locator_for(self.config.geoip)

    def org_label(self, org_id: str | None) -> str:
        if org_id is None:
            return "unknown org"
        alias = self.config.org_alias(org_id)
        return f"{alias} ({org_id})" if alias else org_id


@dataclass(frozen=True)
class Example:
    """A tiny scenario that documents the detector and runs as a test.

    `events` are rows built with `detect.testing`; `apps` maps app names to allowlists.
    """

    name: str
    events: Sequence[Mapping[str, Any]]
    expect: int
    apps: Mapping[str, Sequence[str]] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    severity: Severity | None = None  # when set, every finding must have this severity


@dataclass(frozen=True)
class Detector:
    id: str  # equals the module name; enforced by tests
    title: str
    severity: Severity
    description: str
    find: Callable[[Context], list[Finding]]
    examples: Sequence[Example]
    runbook: str
    settings: Mapping[str, Any] = field(default_factory=dict)  # defaults; TOML overrides
    lookback: timedelta = timedelta(0)
    attack: tuple[str, ...] = ()  # MITRE ATT&CK technique ids
    needs: str = ""  # which sources feed it, for the catalog and the health view
    reads_alerts: bool = False  # a correlation over other detectors' alerts: runs after them
    history_setting: str = ""  # a setting in days bounding what even a full scan can see
    # Modules `find` imports on first use that take seconds to load (scikit-learn and SciPy:
    # about 1.5 s): the runner loads them in the background while the detectors before it run.
    slow_imports: tuple[str, ...] = ()

    def horizon(self, settings: Mapping[str, Any]) -> timedelta | None:
        """How far back a full scan re-judges; None: all of history."""
        return timedelta(days=settings[self.history_setting]) if self.history_setting else None
