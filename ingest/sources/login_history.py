"""LoginHistory with its LoginGeo: every login and refresh-token exchange, in every org.

Filtered server-side on LoginTime only (Salesforce rejects filters on most other fields, e.g.
LoginSubType), read in ascending LoginTime, Id order, so the newest stored LoginTime is a safe
cursor: a run killed between pages resumes there, and the keyed store drops the overlap.
Needs: API Enabled and Manage Users (LoginGeo needs Manage Users).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from ..formats import records
from ..salesforce import OrgSession
from ..source import Batch, FetchContext, Source, normalize_page, soql_time

FIELDS = (
    "Id", "UserId", "LoginTime", "LoginType", "LoginSubType", "Status", "SourceIp", "CountryIso",
    "Application", "Browser", "Platform", "LoginUrl", "ApiType", "ApiVersion", "ClientVersion",
    "TlsProtocol", "CipherSuite", "AuthMethodReference", "LoginGeoId", "LoginGeo.Latitude",
    "LoginGeo.Longitude", "LoginGeo.City", "LoginGeo.Country", "LoginGeo.CountryIso",
    "LoginGeo.Subdivision", "LoginGeo.PostalCode",
)  # fmt: skip


def fetch(session: OrgSession, ctx: FetchContext) -> Iterator[Batch]:
    soql = (
        f"SELECT {', '.join(FIELDS)} FROM LoginHistory "
        f"WHERE LoginTime >= {soql_time(ctx.since)} ORDER BY LoginTime, Id"
    )
    for page in session.query_pages(soql):
        yield normalize_page(page, records.login_history, ctx.org_id, "LoginHistory")


SOURCE = Source(
    id="login_history",
    title="LoginHistory + LoginGeo",
    cursor_source="soql:LoginHistory",
    lag=timedelta(hours=1),
    requires="every org (Manage Users for LoginGeo)",
    fetch=fetch,
)
