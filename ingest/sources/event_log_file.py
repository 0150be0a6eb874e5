"""EventLogFile CSVs (Login, Logout, ApiTotalUsage, API, RestApi, BulkApi2 by default).

The listing is read in CreatedDate, Id order from the cursor; each new file is streamed to
disk (never held in memory) and loaded by the same reader `tokensentry import` uses. A file's
listing row is stored after its rows, so the listing is the cursor and a file cut off by a
crash is fetched again.

Re-delivery: when late rows arrive for a 24-hour file, Salesforce replaces it with the full set
and updates `CreatedDate` (and so `LogFileLength`); whether the `Id` stays is not documented
(REST API guide, "Differences Between Hourly and 24-Hour Event Logs"). A download is therefore
keyed on `Id` + `CreatedDate` + `LogFileLength`: a replaced file is read again, and its rows,
keyed by content, add only the late ones.

Hourly or daily, never both: for an event type, once the org has delivered an Hourly file, the
Daily files of that type for that UTC day and every later day are skipped (their listing is
stored, their rows are not read), because the hourly files of those days carry the same rows
3-6 hours sooner. Days before the first hourly file are read from the daily files.
Needs: View Event Log Files + API Enabled (hourly files need the Event Monitoring add-on).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import duckdb

from ..formats import records
from ..load import StagedRecord
from ..salesforce import OrgSession
from ..source import Batch, ElfFile, FetchContext, RecordBatch, Source, soql_time

FIELDS = (
    "Id",
    "EventType",
    "LogDate",
    "Interval",
    "Sequence",
    "CreatedDate",
    "LogFileLength",
    "LogFile",
)


def delivery_key(listing: dict[str, Any]) -> str:
    """What identifies one delivery of a file: a replaced file gets a new key."""
    length = listing.get("LogFileLength")
    size = int(length) if isinstance(length, int | float) else length
    return f"{listing['Id']}/{listing.get('CreatedDate')}/{size}"


def first_hourly_days(reader: duckdb.DuckDBPyConnection, org_id: str) -> dict[str, str]:
    """Per event type, the first UTC day (YYYY-MM-DD) an Hourly file of it was listed."""
    rows = reader.execute(
        """SELECT json_extract_string(payload, '$.EventType'),
                  min(left(json_extract_string(payload, '$.LogDate'), 10))
           FROM raw_records
           WHERE org_id = ? AND source_id = 'soql:EventLogFile'
             AND json_extract_string(payload, '$.Interval') = 'Hourly'
           GROUP BY 1""",
        [org_id],
    ).fetchall()
    return {event_type: day for event_type, day in rows if event_type and day}


def _listing_record(listing: dict[str, Any], org_id: str) -> StagedRecord:
    staged = records.soql_other(listing, org_id, None)
    return dataclasses.replace(staged, record_id=delivery_key(listing))


def fetch(session: OrgSession, ctx: FetchContext) -> Iterator[Batch]:
    types = ", ".join(f"'{t}'" for t in ctx.options.elf_event_types)
    soql = (
        f"SELECT {', '.join(FIELDS)} FROM EventLogFile WHERE CreatedDate >= "
        f"{soql_time(ctx.since)} AND EventType IN ({types}) ORDER BY CreatedDate, Id"
    )
    listings = [row for page in session.query_pages(soql) for row in page]
    hourly_from: dict[str, str] = dict(ctx.state or {})
    for listing in listings:
        if listing.get("Interval") == "Hourly":
            event_type, day = str(listing.get("EventType")), str(listing.get("LogDate"))[:10]
            hourly_from[event_type] = min(hourly_from.get(event_type, day), day)
    for listing in listings:
        if delivery_key(listing) in ctx.known_records:
            continue
        staged = _listing_record(listing, ctx.org_id)
        first_hourly = hourly_from.get(str(listing.get("EventType")))
        if (
            listing.get("Interval") != "Hourly"
            and first_hourly is not None
            and str(listing.get("LogDate"))[:10] >= first_hourly
        ):
            yield RecordBatch([staged])  # listed, not read: that day's hourly files carry it
            continue
        target = ctx.workdir / f"{ctx.org_id}-{listing['Id']}-{listing['EventType']}.csv"
        length = listing.get("LogFileLength")
        session.download(listing["LogFile"], target, int(length) if length else None)
        yield ElfFile(target, staged)


SOURCE = Source(
    id="event_log_file",
    title="EventLogFile CSVs",
    cursor_source="soql:EventLogFile",
    lag=timedelta(hours=6),
    requires="View Event Log Files, API Enabled (hourly files: Event Monitoring add-on)",
    fetch=fetch,
    known_ids=True,
    prepare=first_hourly_days,
)
