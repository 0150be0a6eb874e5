"""Refresh-token evidence: OauthToken rows, OAuth usage tokens, the partner's token-exchange log.

Each normalizer validates its record (with the readers in `fields`) and returns a
`StagedRecord` (see `records`), or raises `RecordProblem` with a reason an analyst can act on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from ..load import StagedRecord
from ..netlist import parse_ip
from ..sfid import is_salesforce_id, to18
from ..timeparse import parse_salesforce_time
from .fields import RecordProblem, _number, _org, _sf_id, _text, _time, flatten
from .redact import redact, scrub_text

PARTNER_GRANTS = {
    "refresh_token": "refresh_token",
    "authorization_code": "authorization_code",
    "jwt_bearer": "jwt_bearer",
    "urn:ietf:params:oauth:grant-type:jwt-bearer": "jwt_bearer",
    "client_credentials": "client_credentials",
}
PARTNER_OUTCOMES = {"success", "invalid_grant", "error"}
# CONTRACT §4: the partner log's fields, the only ones stored. A field a partner adds by
# mistake (a raw `refresh_token`, under whatever name) is dropped; its name is kept in
# `_dropped_fields` so the partner can be told.
PARTNER_FIELDS = (
    "ts", "org_id", "app", "user_id", "grant_type", "token_fp", "new_token_fp", "egress_ip",
    "worker", "outcome", "error_description", "pkce",
)  # fmt: skip
# The OauthToken fields that are not secrets (Salesforce object reference: AccessToken,
# DeleteToken and RequestToken are the others), plus the relationship a query may add.
OAUTH_TOKEN_FIELDS = (
    "attributes", "Id", "AppMenuItemId", "AppName", "CreatedDate", "LastUsedDate", "UseCount",
    "UserId", "User",
)  # fmt: skip


def keep_known(record: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """The payload to store: only `fields` (any key case, as Data Loader upper-cases them),
    redacted, and the names of the fields left out."""
    wanted = {name.lower() for name in fields}
    kept = {key: value for key, value in record.items() if str(key).lower() in wanted}
    payload = dict(redact(kept))
    dropped = sorted(scrub_text(str(key)) for key in record if str(key).lower() not in wanted)
    if dropped:
        payload["_dropped_fields"] = dropped
    return payload


def _snapshot(
    record: Mapping[str, Any], default_org: str | None, line: int | None, *, source_id: str,
    identity: tuple[Any, ...], created: Any, last_used: Any, use_count: float | None,
    event: dict[str, Any], payload: dict[str, Any],
) -> StagedRecord:  # fmt: skip
    """A refresh token as seen at one moment. Snapshots are keyed by owner, app, creation and
    usage, so a later snapshot with a newer last use is a new usage event."""
    key = "|".join(str(part) for part in (*identity, created, last_used, use_count))
    return StagedRecord(
        org_id=_org(default_org),
        source_id=source_id,
        key_fixes_time=True,  # the key holds the creation and last use
        record_id=hashlib.md5(key.encode()).hexdigest(),
        occurred_at=last_used or created,
        payload=payload,
        line=line,
        event={
            "event_type": "token_usage",
            "grant_type": "refresh_token",
            "use_count": int(use_count) if use_count is not None else None,
            "token_created_at": created,
            **event,
        },
    )


def oauth_token(
    record: Mapping[str, Any], default_org: str | None, line: int | None
) -> StagedRecord:
    """An OauthToken row: when a refresh token was created, last used, and how often. Its `Id`
    is always null."""
    flat = flatten(record)
    app = _text(flat, "AppName")
    if app is None:
        raise RecordProblem("AppName is missing")
    created = _time(flat, "CreatedDate", required=False)
    last_used = _time(flat, "LastUsedDate", required=False)
    if created is None and last_used is None:
        raise RecordProblem("neither CreatedDate nor LastUsedDate is set")
    user_id = _sf_id(flat, "UserId")
    return _snapshot(
        record, default_org, line, source_id="soql:OauthToken", identity=(user_id, app),
        created=created, last_used=last_used, use_count=_number(flat, "UseCount"),
        event={"user_id": user_id, "app_name": app},
        payload=keep_known(record, OAUTH_TOKEN_FIELDS),
    )  # fmt: skip


def oauth_usage_token(
    record: Mapping[str, Any], default_org: str | None, line: int | None
) -> StagedRecord:
    """A refresh token from the Connect REST OAuth usage resources (API 59.0+)."""
    flat = flatten(record)
    app = _text(flat, "appName", "appDeveloperName")
    if app is None:
        raise RecordProblem("appName / appDeveloperName is missing")
    connected = _time(flat, "initialConnectionAt", required=False)
    last_used = _time(flat, "lastUsedAt", required=False)
    if connected is None and last_used is None:
        raise RecordProblem("neither initialConnectionAt nor lastUsedAt is set")
    user_id = _sf_id(flat, "userIdentifier")
    app_id = _text(flat, "appIdentifier")
    return _snapshot(
        record, default_org, line, source_id="rest:OAuthUsageToken", identity=(app_id, user_id),
        created=connected, last_used=last_used, use_count=_number(flat, "useCount"),
        event={
            "user_id": user_id, "username": _text(flat, "username"), "app_name": app,
            "connected_app_id": to18(app_id) if app_id and is_salesforce_id(app_id) else None,
        },
        # The usage resources' shape is not documented: every field is kept, redacted.
        payload=redact(dict(record)),
    )  # fmt: skip


def _egress(egress: Any) -> str | None:
    """The call's source IP, or None when the partner's worker did not know its egress: the
    refresh helper writes `""` when no NAT address is configured (null is read alike). Any
    other text that is not an IP is a quarantine reason, never an event's IP."""
    if egress is None or (isinstance(egress, str) and not egress.strip()):
        return None
    address = parse_ip(egress) if isinstance(egress, str) else None
    if address is None:
        raise RecordProblem(f"egress_ip {egress!r} is not an IP address")
    return str(address)


def partner_token_log(
    record: Mapping[str, Any], default_org: str | None, line: int | None
) -> StagedRecord:
    """One call the partner's integration made to a token endpoint (CONTRACT §4)."""
    del default_org  # every line names its own org
    ts = record.get("ts")
    if not isinstance(ts, str):
        raise RecordProblem("ts must be an ISO 8601 UTC string")
    try:
        occurred = parse_salesforce_time(ts)
    except ValueError:
        raise RecordProblem(f"ts {ts!r} is not ISO 8601") from None
    org = record.get("org_id")
    if not isinstance(org, str) or not is_salesforce_id(org):
        raise RecordProblem(f"org_id {org!r} is not a 15- or 18-character Salesforce id")
    app = record.get("app")
    if not isinstance(app, str) or not app.strip():
        raise RecordProblem("app must be a non-empty string")
    user = record.get("user_id")
    if user is not None and (not isinstance(user, str) or not is_salesforce_id(user)):
        raise RecordProblem(f"user_id {user!r} is not a Salesforce id or null")
    grant = PARTNER_GRANTS.get(str(record.get("grant_type")))
    if grant is None:
        raise RecordProblem(
            f"grant_type {record.get('grant_type')!r} is not one of "
            "refresh_token, authorization_code, jwt_bearer, client_credentials"
        )
    source_ip = _egress(record.get("egress_ip"))
    outcome = record.get("outcome")
    if outcome not in PARTNER_OUTCOMES:
        raise RecordProblem(f"outcome {outcome!r} is not one of success, invalid_grant, error")
    for name in ("token_fp", "new_token_fp", "error_description"):
        if record.get(name) is not None and not isinstance(record.get(name), str):
            raise RecordProblem(f"{name} must be a string or null")
    worker = record.get("worker")
    if worker is not None and not isinstance(worker, str):
        raise RecordProblem("worker must be a string")
    pkce = record.get("pkce")
    if pkce is not None and not isinstance(pkce, bool):
        raise RecordProblem("pkce must be true, false or null")
    # The id is the whole line's, redacted, as it always was: a line is the same line whatever
    # is stored of it.
    identity = json.dumps(redact(dict(record)), sort_keys=True)
    return StagedRecord(
        org_id=to18(org),
        source_id="partner_token_log",
        key_fixes_time=True,  # the line, ts included
        record_id=hashlib.md5(identity.encode()).hexdigest(),
        occurred_at=occurred,
        payload=keep_known(record, PARTNER_FIELDS),
        line=line,
        event={
            "event_type": "token_exchange",
            "grant_type": grant,
            "is_success": outcome == "success",
            "status": outcome,
            "user_id": to18(user) if user else None,
            "app_name": app,
            "source_ip": source_ip,
            "token_fp": record.get("token_fp"),
            "new_token_fp": record.get("new_token_fp"),
            "worker": worker,
            "pkce": pkce,
            "error_description": record.get("error_description"),
        },
    )
