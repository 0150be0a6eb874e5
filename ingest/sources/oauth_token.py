"""Refresh tokens in the org: OauthToken rows and the Connect REST OAuth usage resources.

The evidence for the 30-day idle timeout: when each token was created, last used and how often.
OauthToken returns at most 2,500 rows per query, so it is read in UserId order, 2,500 at a
time, restarting after the last user seen. The OAuth usage resources (API 59.0+) list each
app's users and their tokens with `lastUsedAt` / `useCount`. Both are snapshots: every run
reads them whole, and an unchanged token adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from ..formats import tokens
from ..salesforce import NotAvailable, OrgSession
from ..source import Batch, FetchContext, Source, normalize_page

FIELDS = ("AppName", "UserId", "CreatedDate", "LastUsedDate", "UseCount", "AppMenuItemId")
CAP = 2500


def fetch(session: OrgSession, ctx: FetchContext) -> Iterator[Batch]:
    last_user: str | None = None
    operator = ">="
    while True:
        where = f" WHERE UserId {operator} '{last_user}'" if last_user else ""
        soql = f"SELECT {', '.join(FIELDS)} FROM OauthToken{where} ORDER BY UserId LIMIT {CAP}"
        rows = [row for page in session.query_pages(soql) for row in page]
        yield normalize_page(rows, tokens.oauth_token, ctx.org_id, "OauthToken")
        if len(rows) < CAP:
            break
        newest = rows[-1].get("UserId")
        # One user holding the whole page would loop forever on ">=": move past them.
        operator = ">" if newest == last_user or rows[0].get("UserId") == newest else ">="
        last_user = newest
    yield from _usage(session, ctx)


def _usage(session: OrgSession, ctx: FetchContext) -> Iterator[Batch]:
    try:
        page, apps = 0, []
        while True:
            listing = session.rest("apps/oauth/usage", {"page": page, "pageSize": 100}) or {}
            apps.extend(listing.get("apps", []))
            if not listing.get("nextPageUrl"):
                break
            page += 1
    except NotAvailable:
        return  # API < 59.0 or no access: OauthToken alone still feeds the idle-token evidence
    for app in apps:
        app_id = app.get("appIdentifier")
        users = (session.rest(f"apps/oauth/usage/{app_id}/users") or {}).get("users", [])
        for user in users:
            path = f"apps/oauth/usage/{app_id}/{user.get('userIdentifier')}/tokens"
            listed = (session.rest(path) or {}).get("tokens", [])
            named = [{"appName": app.get("appName"), **token} for token in listed]
            yield normalize_page(named, tokens.oauth_usage_token, ctx.org_id, "OAuth usage token")


SOURCE = Source(
    id="oauth_token",
    title="OauthToken + OAuth usage",
    cursor_source="soql:OauthToken",
    lag=timedelta(0),
    requires="Customize Application (all users' tokens) or Manage Users",
    fetch=fetch,
)
