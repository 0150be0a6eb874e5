"""The org's own settings: Organization.TimeZoneSidKey, read on every ingest.

Detectors that reason about "night" (anomaly_score) need the org's local hours, and only
Salesforce knows the org's time zone. One small query per run; the row is stored raw
(`soql:Organization`) keyed by id and time zone, so a change of time zone is a new row and
the newest read wins (`ingest.org_profile`). Import-only orgs have no such row: UTC.
Needs: API Enabled (every user can read their own Organization row).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from ..formats.records import RecordProblem, _text, flatten
from ..formats.redact import redact
from ..load import StagedRecord
from ..salesforce import NotAvailable, OrgSession
from ..source import Batch, FetchContext, RecordBatch, Source, normalize_page

FIELDS = ("Id", "Name", "TimeZoneSidKey", "InstanceName", "IsSandbox", "OrganizationType")


def _normalizer(ctx: FetchContext):  # type: ignore[no-untyped-def]
    def organization(
        record: Mapping[str, Any], default_org: str | None, line: int | None
    ) -> StagedRecord:
        flat = flatten(record)
        zone = _text(flat, "TimeZoneSidKey")
        if zone is None:
            raise RecordProblem("TimeZoneSidKey is missing")
        return StagedRecord(
            org_id=ctx.org_id,
            source_id="soql:Organization",
            record_id=f"{_text(flat, 'Id') or ctx.org_id}|{zone}",
            occurred_at=ctx.now,  # when this setting was read: the newest read wins
            payload=redact(dict(record)),
            line=line,
        )

    return organization


def fetch(session: OrgSession, ctx: FetchContext) -> Iterator[Batch]:
    try:
        rows = [row for page in session.query_pages(
            f"SELECT {', '.join(FIELDS)} FROM Organization LIMIT 1") for row in page]  # fmt: skip
    except NotAvailable:
        yield RecordBatch([])  # the detectors fall back to UTC
        return
    yield normalize_page(rows, _normalizer(ctx), ctx.org_id, "Organization")


SOURCE = Source(
    id="organization",
    title="Organization (time zone)",
    cursor_source="soql:Organization",
    lag=timedelta(0),
    requires="API Enabled",
    fetch=fetch,
)
