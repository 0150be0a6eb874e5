"""EventLogFile CSVs (Login, Logout, ApiTotalUsage, API, RestApi, BulkApi2 by default).

The listing is read in CreatedDate, Id order from the cursor; each new file is streamed to
disk (never held in memory) and loaded by the same reader `tokensentry import` uses. Daily and
Hourly files and Sequence > 1 re-deliveries of one hour overlap; rows are keyed by their
content, so a row delivered twice is stored once. A file's listing row is stored after its rows,
so the listing is the cursor and a file cut off by a crash is fetched again.
Needs: View Event Log Files + API Enabled (hourly files need the Event Monitoring add-on).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from ..formats import records
from ..salesforce import OrgSession
from ..source import Batch, ElfFile, FetchContext, Source, soql_time

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


def fetch(session: OrgSession, ctx: FetchContext) -> Iterator[Batch]:
    types = ", ".join(f"'{t}'" for t in ctx.options.elf_event_types)
    soql = (
        f"SELECT {', '.join(FIELDS)} FROM EventLogFile WHERE CreatedDate >= "
        f"{soql_time(ctx.since)} AND EventType IN ({types}) ORDER BY CreatedDate, Id"
    )
    for page in session.query_pages(soql):
        for listing in page:
            if listing["Id"] in ctx.known_records:
                continue
            target = ctx.workdir / f"{ctx.org_id}-{listing['Id']}-{listing['EventType']}.csv"
            length = listing.get("LogFileLength")
            session.download(listing["LogFile"], target, int(length) if length else None)
            yield ElfFile(target, records.soql_other(listing, ctx.org_id, None))


SOURCE = Source(
    id="event_log_file",
    title="EventLogFile CSVs",
    cursor_source="soql:EventLogFile",
    lag=timedelta(hours=6),
    requires="View Event Log Files, API Enabled (hourly files: Event Monitoring add-on)",
    fetch=fetch,
    known_ids=True,
)
