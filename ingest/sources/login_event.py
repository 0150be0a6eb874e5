"""LoginEvent (Real-Time Event Monitoring): logins with inline geo, LoginKey and the link to
their LoginHistory row.

Salesforce allows LoginEvent filters on EventDate only and does not promise ascending order,
so each run reads one window (since, now] completely and then stores a window marker; the
marker, not the newest row, is the cursor, so a crash mid-window re-reads the whole window.
An org without Shield / Event Monitoring answers INVALID_TYPE: recorded "not available".
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from ..formats import records
from ..load import StagedRecord
from ..salesforce import OrgSession
from ..source import Batch, FetchContext, Source, WindowDone, normalize_page, soql_time

FIELDS = (
    "EventIdentifier", "EventDate", "UserId", "Username", "SourceIp", "LoginType",
    "LoginSubType", "Status", "Application", "LoginLatitude", "LoginLongitude", "CountryIso",
    "City", "LoginKey", "SessionKey", "LoginHistoryId", "Browser", "Platform", "LoginUrl",
)  # fmt: skip
WINDOW_SOURCE = "ingest_window:LoginEvent"


def fetch(session: OrgSession, ctx: FetchContext) -> Iterator[Batch]:
    soql = (
        f"SELECT {', '.join(FIELDS)} FROM LoginEvent "
        f"WHERE EventDate > {soql_time(ctx.since)} AND EventDate <= {soql_time(ctx.now)}"
    )
    delivered = 0
    for page in session.query_pages(soql):
        delivered += len(page)
        yield normalize_page(page, records.login_event, ctx.org_id, "LoginEvent")
    yield WindowDone(
        StagedRecord(
            org_id=ctx.org_id,
            source_id=WINDOW_SOURCE,
            record_id=ctx.now.isoformat(),  # one marker per window end: a rerun adds none
            occurred_at=ctx.now,
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
