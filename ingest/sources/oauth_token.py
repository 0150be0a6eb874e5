"""Refresh tokens in the org: OauthToken rows and the Connect REST OAuth usage resources.

The evidence for the 30-day idle timeout: when each token was created, last used and how often.
OauthToken returns at most 2,500 rows per query, so it is read in UserId order, 2,500 at a
time, restarting after the last user seen. The OAuth usage resources (API 59.0+) list each
app's users and their tokens with `lastUsedAt` / `useCount`. Both are snapshots: every run
reads them whole, and an unchanged token adds nothing. The usage resources exist only for
External Client Apps and only from API 59.0: when they cannot be read, or answer in a shape this
client does not know, the unit is `partial` and the OauthToken rows are kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from .. import oauth_usage
from ..formats import tokens
from ..salesforce import NotAvailable, OrgSession, ResourceNotFound
from ..source import Batch, FetchContext, Notice, Source, normalize_page

FIELDS = ("AppName", "UserId", "CreatedDate", "LastUsedDate", "UseCount", "AppMenuItemId")
CAP = 2500


def fetch(session: OrgSession, ctx: FetchContext) -> Iterator[Batch]:
    last_user: str | None = None
    operator = ">="
    token_apps: set[str] = set()
    while True:
        where = f" WHERE UserId {operator} '{last_user}'" if last_user else ""
        soql = f"SELECT {', '.join(FIELDS)} FROM OauthToken{where} ORDER BY UserId LIMIT {CAP}"
        rows = [row for page in session.query_pages(soql) for row in page]
        token_apps.update(str(r["AppName"]) for r in rows if r.get("AppName"))
        yield normalize_page(rows, tokens.oauth_token, ctx.org_id, "OauthToken")
        if len(rows) < CAP:
            break
        newest = rows[-1].get("UserId")
        # One user holding the whole page would loop forever on ">=": move past them.
        operator = ">" if newest == last_user or rows[0].get("UserId") == newest else ">="
        last_user = newest
    yield from _usage(session, ctx, token_apps)


def _usage(session: OrgSession, ctx: FetchContext, token_apps: set[str]) -> Iterator[Batch]:
    """The usage resources; what they cannot tell is a notice, never a lost OauthToken row."""
    listed: set[str] = set()
    try:
        for app, page in oauth_usage.tokens(session):
            listed |= oauth_usage.app_names(app)
            name = oauth_usage.first(app, oauth_usage.APP_NAME_KEYS)
            named = [{"appName": name, **token} for token in page]
            yield normalize_page(named, tokens.oauth_usage_token, ctx.org_id, "OAuth usage token")
    except (NotAvailable, ResourceNotFound) as exc:
        yield Notice(
            "partial",
            f"OAuth usage not available ({exc}); OauthToken rows kept",
            {"oauth_usage": "not_available"},
        )
        return
    except oauth_usage.UnknownShape as exc:
        yield Notice(
            "partial",
            f"OAuth usage unavailable: unrecognised response: {exc}; OauthToken rows kept",
            {"oauth_usage": "unrecognised_response"},
        )
        return
    unlisted = sorted(app for app in token_apps if app.lower() not in listed)
    if unlisted:
        yield Notice(
            "info",
            f"{len(unlisted)} app(s) hold refresh tokens in OauthToken but have no OAuth usage "
            "entry; the usage resources cover External Client Apps only, so a Connected App's "
            "tokens are known from OauthToken alone",
            {"apps_without_usage": unlisted[:50]},
        )


SOURCE = Source(
    id="oauth_token",
    title="OauthToken + OAuth usage",
    cursor_source="soql:OauthToken",
    lag=timedelta(0),
    requires="Customize Application (all users' tokens) or Manage Users",
    fetch=fetch,
)
