"""The Connect REST "OAuth Usage" resources (API 59.0+), read as Salesforce documents them.

Every collection page carries `nextPageUrl`, the last one included, and a page past the end is
an empty list (resource pages "OAuth Usage" and "OAuth Users by App ID" in the Connect REST API
guide). So a listing ends on an empty page, on a page without `nextPageUrl`, or on a page equal
to the one before (a server that ignores `page`); a hard cap of `MAX_PAGES` turns anything else
into a failure with a message instead of a job that spends the org's API allowance forever.

The objects inside `apps` are not documented; the token objects use `appIdentifier` /
`appDeveloperName` and public clients read `identifier` / `developerName` / `label` from the
apps list, so every spelling is accepted. A body of any other shape raises `UnknownShape`, which
the caller reports as "usage unavailable" while keeping the org's OauthToken rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .errors import TokensentryError
from .salesforce import OrgSession

MAX_PAGES = 1000
PAGE_SIZE = 100
APP_ID_KEYS = ("appIdentifier", "identifier", "externalClientAppIdentifier", "appId", "id")
APP_NAME_KEYS = ("appName", "label", "masterLabel", "name", "appDeveloperName", "developerName")
USER_ID_KEYS = ("userIdentifier", "userId", "identifier", "id")


class UnknownShape(Exception):
    """A usage response this client does not recognise; the message says what was found."""


class PageCapReached(TokensentryError):
    """A listing still returned rows after MAX_PAGES pages."""


def pages(
    session: OrgSession, path: str, list_key: str, *, max_pages: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Every non-empty page of one usage collection, in order."""
    max_pages = max_pages or MAX_PAGES
    previous: list[dict[str, Any]] | None = None
    for page in range(max_pages):
        body = session.rest(path, {"page": page, "pageSize": PAGE_SIZE})
        items = _items(body, list_key, path)
        if not items or items == previous:
            return
        yield items
        if not body.get("nextPageUrl"):
            return
        previous = items
    raise PageCapReached(
        f"{path}: still returning rows after {max_pages} pages of {PAGE_SIZE}; stopped so the "
        "org's daily API allowance is not spent on a listing that does not end"
    )


def _items(body: Any, list_key: str, path: str) -> list[dict[str, Any]]:
    if body is None:
        return []
    if not isinstance(body, Mapping):
        raise UnknownShape(f"{path}: expected a JSON object, got {type(body).__name__}")
    items = body.get(list_key)
    if items is None and not body:
        return []
    if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
        keys = ", ".join(sorted(str(k) for k in body)[:10])
        raise UnknownShape(f"{path}: no list of objects under {list_key!r} (keys: {keys})")
    return [dict(item) for item in items]


def first(item: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = item.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def app_names(app: Mapping[str, Any]) -> set[str]:
    """Every name an app goes by in the listing, lower-cased, to match OauthToken.AppName."""
    return {
        value.lower() for key in APP_NAME_KEYS if isinstance(value := app.get(key), str) and value
    }


def tokens(session: OrgSession) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(app, its tokens for one user) for every app, user and token the org lists.

    The apps list is read whole first: a listing that never ends fails before any per-app call.
    """
    apps = [app for page in pages(session, "apps/oauth/usage", "apps") for app in page]
    for app in apps:
        app_id = first(app, APP_ID_KEYS)
        if app_id is None:
            keys = ", ".join(sorted(app)[:10])
            raise UnknownShape(f"apps/oauth/usage: an app without an identifier (keys: {keys})")
        for user_page in pages(session, f"apps/oauth/usage/{app_id}/users", "users"):
            for user in user_page:
                user_id = first(user, USER_ID_KEYS)
                if user_id is None:
                    raise UnknownShape(f"apps/oauth/usage/{app_id}/users: a user without an id")
                path = f"apps/oauth/usage/{app_id}/{user_id}/tokens"
                for token_page in pages(session, path, "tokens"):
                    yield app, token_page
