"""The fake's Connect REST OAuth usage resources (External Client Apps' refresh tokens)."""

from __future__ import annotations

from typing import Any

from .model import ApiError, FakeApp, FakeOrg


def resource(org: FakeOrg, rest: list[str], params: dict[str, str], version: str) -> dict[str, Any]:
    """The Connect REST OAuth usage resources as documented: `nextPageUrl` on every page,
    the last included, and an empty list for a page past the end. External Client Apps only.
    """
    base = f"/services/data/v{version}/apps/oauth/usage"
    if org.faults.usage_shape == "absent":  # an org or API version without the resources
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
    if org.faults.usage_shape == "unrecognised":
        return {"usage": {"items": "unexpected"}, "currentPageUrl": f"{base}?page=0"}
    if not rest and org.faults.usage_endless:
        page = int(params.get("page", 0))
        endless = [{"identifier": f"0H4{page:012d}", "label": f"Endless {page}"}]
        return {"apps": endless, "nextPageUrl": f"{base}?page={page + 1}"}
    if not rest:
        apps = [
            _app_object(a, org.faults.usage_shape)
            for a in org.apps
            if a.app_id in org.oauth_usage and a.external_client_app
        ]
        return _collection("apps", apps, base, params, paged=not org.faults.usage_ignores_page)
    app_id = rest[0]
    users = org.oauth_usage.get(app_id)
    app = next((a for a in org.apps if a.app_id == app_id), None)
    if users is None or app is None or not app.external_client_app:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
    if rest[1:] == ["users"]:
        listed = [
            {"userIdentifier": user_id, "username": tokens[0]["username"]}
            for user_id, tokens in users.items()
            if tokens
        ]
        return _collection("users", listed, f"{base}/{app_id}/users", params)
    if len(rest) == 3 and rest[2] == "tokens":
        return {"tokens": users.get(rest[1], [])}
    raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")


def _collection(
    key: str, items: list[dict[str, Any]], base: str, params: dict[str, str], *, paged: bool = True
) -> dict[str, Any]:
    try:
        page, size = int(params.get("page", 0)) if paged else 0, int(params.get("pageSize", 100))
    except ValueError:
        raise ApiError(400, "INVALID_API_INPUT", "page and pageSize must be integers") from None
    if page < 0 or not 1 <= size <= 1000:
        raise ApiError(400, "INVALID_API_INPUT", "page or pageSize out of range")
    return {
        key: items[page * size : (page + 1) * size],  # past the end: an empty list
        "currentPageUrl": f"{base}?page={page}&pageSize={size}",
        "nextPageUrl": f"{base}?page={page + 1}&pageSize={size}",  # on every page, the last too
    }


def _app_object(app: FakeApp, shape: str) -> dict[str, Any]:
    developer_name = app.name.replace(" ", "_")
    if shape == "token_spelling":
        return {"appIdentifier": app.app_id, "appDeveloperName": developer_name}
    return {"identifier": app.app_id, "developerName": developer_name, "label": app.name}
