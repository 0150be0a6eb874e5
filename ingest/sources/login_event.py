"""LoginEvent (Real-Time Event Monitoring): logins with inline geo, LoginKey and the link to
their LoginHistory row.

Salesforce allows LoginEvent filters on EventDate only and does not promise ascending order,
so each run reads one window (since, now] completely and then stores a window marker; the
marker, not the newest row, is the cursor, so a crash mid-window re-reads the whole window.
An org without Shield / Event Monitoring answers INVALID_TYPE: recorded "not available".
Salesforce documents comparison operators on the last WHERE expression only; when the two-sided
range is refused, the query keeps the lower bound and rows after the window end are dropped
here before the write (the next window reads them).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta

from ..formats import records
from ..load import StagedRecord
from ..salesforce import OrgSession, QueryRejected
from ..source import Batch, FetchContext, Source, WindowDone, normalize_page, soql_time

FIELDS = (
    "EventIdentifier", "EventDate", "UserId", "Username", "SourceIp", "LoginType",
    "LoginSubType", "Status", "Application", "LoginLatitude", "LoginLongitude", "CountryIso",
    "City", "LoginKey", "SessionKey", "LoginHistoryId", "Browser", "Platform", "LoginUrl",
)  # fmt: skip
WINDOW_SOURCE = "ingest_window:LoginEvent"


def fetch(session: OrgSession, ctx: FetchContext) -> Iterator[Batch]:
    since, end = soql_time(ctx.since), soql_time(ctx.now)
    fields = ", ".join(FIELDS)
    bounded = f"SELECT {fields} FROM LoginEvent WHERE EventDate > {since} AND EventDate <= {end}"
    open_ended = f"SELECT {fields} FROM LoginEvent WHERE EventDate > {since}"
    pages = session.query_pages(bounded)
    try:
        first = next(pages, [])
    except QueryRejected:
        # Salesforce allows a comparison operator on the last WHERE expression only; an org
        # that enforces it gets the lower bound alone, and the upper bound is applied here.
        pages = session.query_pages(open_ended)
        first = next(pages, [])
    delivered = 0
    for page in itertools.chain([first], pages):
        batch = normalize_page(page, records.login_event, ctx.org_id, "LoginEvent")
        batch.records = [r for r in batch.records if r.occurred_at and r.occurred_at <= ctx.now]
        delivered += len(batch.records)
        yield batch
    yield WindowDone(
        StagedRecord(
            org_id=ctx.org_id,
            source_id=WINDOW_SOURCE,
            record_id=ctx.now.isoformat(),  # one marker per window end: a rerun adds none
            occurred_at=ctx.now,
            key_fixes_time=True,
            payload={"start": ctx.since.isoformat(), "end": ctx.now.isoformat(), "rows": delivered},
            line=None,
        )
    )


SOURCE = Source(
    id="login_event",
    title="LoginEvent (Shield / Event Monitoring)",
    cursor_source=WINDOW_SOURCE,
    lag=timedelta(minutes=30),
    requires="Shield or the Event Monitoring add-on, View Real-Time Event Monitoring Data",
    fetch=fetch,
)
