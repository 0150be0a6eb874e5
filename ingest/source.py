"""The source contract: one module per Salesforce feed in `ingest/sources/`, found by discovery.

A source turns an authenticated `OrgSession` and a starting point into batches the runner
writes: SOQL records (already normalized), EventLogFile CSVs downloaded to disk, and window
markers for feeds that cannot be read in ascending order.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from .config import IngestConfig
from .load import Problem, StagedRecord
from .salesforce import OrgSession


@dataclass
class RecordBatch:
    records: list[StagedRecord]
    problems: list[Problem] = field(default_factory=list)


@dataclass
class ElfFile:
    path: Path
    listing: StagedRecord  # the EventLogFile row; stored once the file's rows are loaded


@dataclass
class WindowDone:
    """Everything in [start, end] was delivered: the cursor of a feed read in no fixed order."""

    marker: StagedRecord


@dataclass
class Notice:
    """A fact about this unit that is not a failure: reported in the summary and `runs`.

    `partial` marks the unit's data as incomplete (status `partial`, exit 0); `info` is only said.
    """

    kind: str  # partial | info
    message: str
    details: dict = field(default_factory=dict)


Batch = RecordBatch | ElfFile | WindowDone | Notice


@dataclass(frozen=True)
class FetchContext:
    org_id: str
    since: datetime
    now: datetime
    options: IngestConfig
    workdir: Path
    known_records: frozenset[str] = frozenset()  # record ids of `cursor_source` already stored
    state: Any = None  # what the source's `prepare` read from the store before the fetch


@dataclass(frozen=True)
class Source:
    id: str  # equals the module name; what `orgs.<alias>.sources` lists
    title: str
    cursor_source: str  # raw_records.source_id whose newest occurred_at is the cursor
    lag: timedelta  # re-read this much before the cursor: late rows arrive (hourly ELF: 3-6 h)
    requires: str  # licence or permission; an org without it is recorded "not available"
    fetch: Callable[[OrgSession, FetchContext], Iterator[Batch]]
    known_ids: bool = False  # pass the ids already stored since the cursor (listing feeds)
    prepare: Callable[[duckdb.DuckDBPyConnection, str], Any] | None = None  # (reader, org_id)
    # Read after the org's other sources, once the writer has stored their rows: `prepare`
    # then sees this run's events (the `user` source looks up the users they mention).
    after_org_writes: bool = False


def all_sources() -> list[Source]:
    from . import sources as package

    found = []
    for info in pkgutil.iter_modules(package.__path__):
        source = importlib.import_module(f"{package.__name__}.{info.name}").SOURCE
        if source.id != info.name:
            raise TypeError(f"source id {source.id!r} differs from its module {info.name!r}")
        found.append(source)
    return sorted(found, key=lambda s: s.id)


def soql_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def normalize_page(
    records: list[dict], normalizer: Callable[..., StagedRecord], org_id: str, kind: str
) -> RecordBatch:
    from .formats.records import RecordProblem, _preview_record

    batch = RecordBatch([])
    for index, record in enumerate(records):
        try:
            batch.records.append(normalizer(record, org_id, None))
        except RecordProblem as exc:
            batch.problems.append(
                Problem(None, f"{kind}: {exc}", _preview_record(record), record_index=index)
            )
    return batch
