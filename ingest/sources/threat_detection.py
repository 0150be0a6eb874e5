"""Shield Threat Detection findings: SessionHijackingEventStore, CredentialStuffingEventStore,
ApiAnomalyEventStore and ReportAnomalyEventStore (what each holds, with the documentation
that says so: `ingest/formats/threat.py`).

The four are ordinary queryable storage objects (query(); EventDate is Filter and Sort), read
for one window (since, now] each run, all four for the same window, in ascending EventDate;
then a window marker is stored, and the marker, not the newest finding, is the cursor, so a
run that dies between objects re-reads the whole window and the keyed store drops what it
already holds. Salesforce stores a finding only after its models have run ("a brief
processing time" after EventDate, per the object pages), so every run re-reads `lag` (24 h)
before the last window's end; a finding stored more than 24 h after its EventDate is missed
(blind spot, never observed in the documentation's description of the delay).

Needs Shield or the Event Monitoring add-on and View Real-Time Event Monitoring Data. An org
without them answers INVALID_TYPE ("sObject type ... is not supported") or
INSUFFICIENT_ACCESS for every object: the unit is recorded "not available", not failed. An org
that has some objects but not others (ApiAnomalyEventStore exists from API 50.0, the others
from 49.0; tokensentry queries at 62.0) loads what it has and says which were unavailable.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from ..formats.threat import OBJECTS, ThreatObject, normalizers
from ..load import StagedRecord
from ..salesforce import NotAvailable, OrgSession
from ..source import Batch, FetchContext, Notice, Source, WindowDone, normalize_page, soql_time

WINDOW_SOURCE = "ingest_window:ThreatDetection"
NORMALIZERS = normalizers()


def query(threat: ThreatObject, since: str, end: str) -> str:
    return (
        f"SELECT {', '.join(threat.fields)} FROM {threat.name} "
        f"WHERE EventDate > {since} AND EventDate <= {end} ORDER BY EventDate, EventIdentifier"
    )


def fetch(session: OrgSession, ctx: FetchContext) -> Iterator[Batch]:
    since, end = soql_time(ctx.since), soql_time(ctx.now)
    unavailable: dict[str, str] = {}
    delivered: dict[str, int] = {}
    for threat in OBJECTS.values():
        try:
            for page in session.query_pages(query(threat, since, end)):
                batch = normalize_page(page, NORMALIZERS[threat.name], ctx.org_id, threat.name)
                delivered[threat.name] = delivered.get(threat.name, 0) + len(batch.records)
                yield batch
        except NotAvailable as exc:
            unavailable[threat.name] = str(exc)
    if len(unavailable) == len(OBJECTS):
        first = next(iter(unavailable.values()))
        raise NotAvailable(f"no Threat Detection storage object is readable ({first})")
    if unavailable:
        yield Notice(
            "info",
            f"not available in this org: {', '.join(unavailable)}",
            {"not_available": unavailable},
        )
    yield WindowDone(
        StagedRecord(
            org_id=ctx.org_id,
            source_id=WINDOW_SOURCE,
            record_id=ctx.now.isoformat(),  # one marker per window end: a rerun adds none
            occurred_at=ctx.now,
            key_fixes_time=True,
            payload={
                "start": ctx.since.isoformat(),
                "end": ctx.now.isoformat(),
                "rows": delivered,
                "unavailable": sorted(unavailable),
            },
            line=None,
        )
    )


SOURCE = Source(
    id="threat_detection",
    title="Threat Detection findings (Shield / Event Monitoring)",
    cursor_source=WINDOW_SOURCE,
    lag=timedelta(hours=24),
    requires="Shield or the Event Monitoring add-on, View Real-Time Event Monitoring Data",
    fetch=fetch,
)
