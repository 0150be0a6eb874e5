"""SOQL records, ELF rows as JSON, and partner token-log lines: recognise, validate, normalize.

A record is recognised by its shape: `attributes.type` when the REST API wrote it, otherwise by
the fields only that object has. Field names are matched case-insensitively because Data
Loader exports upper-case the API names. Each normalizer returns a `StagedRecord` or raises
`RecordProblem` with a reason an analyst can act on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ..load import StagedRecord
from ..vocab import LOGIN_TYPE_API_NAMES, SUBTYPE_GRANT, subtype_key
from .fields import (
    RecordProblem,
    _ip,
    _number,
    _org,
    _record_key,
    _sf_id,
    _text,
    _time,
    flatten,
)
from .redact import redact, scrub_text
from .threat import kind_of_columns as threat_kind_of_columns
from .threat import normalizers as threat_normalizers
from .tokens import oauth_token, oauth_usage_token, partner_token_log

OAUTH_LOGIN_TYPES = {"Remote Access 2.0", "Remote Access Client"}


def classify(record: Any) -> str | None:
    """The kind of a record: 'elf', 'partner_token_log', a SOQL object name, or None."""
    if not isinstance(record, Mapping):
        return None
    attributes = record.get("attributes")
    if isinstance(attributes, Mapping) and isinstance(attributes.get("type"), str):
        return attributes["type"]
    keys = {str(key).lower() for key in record}
    if "event_type" in keys and ({"timestamp", "timestamp_derived"} & keys):
        return "elf"
    if {"ts", "grant_type", "egress_ip"} <= keys:
        return "partner_token_log"
    if "logintime" in keys and ({"sourceip", "logintype", "status"} & keys):
        return "LoginHistory"
    if {"eventidentifier", "eventdate"} <= keys:
        # Real-Time Event Monitoring objects share these two fields; only a LoginEvent is a
        # login, so the others are recognised first by the fields only they carry. Threat
        # Detection stores come first: ApiAnomalyEventStore has ApiEvent's columns and
        # CredentialStuffingEventStore has LoginEvent's.
        threat = threat_kind_of_columns(keys)
        if threat:
            return threat
        if {"loginascategory", "delegatedusername", "delegatedorganizationid"} & keys:
            return "LoginAsEvent"
        if {"query", "queriedentities", "rowsprocessed", "rowsreturned", "operation"} & keys:
            return "ApiEvent"
        if {"logintype", "loginsubtype", "status", "loginurl"} & keys:
            return "LoginEvent"
        if "sessionkey" in keys:
            return "LogoutEvent"
    if "appname" in keys and ({"usecount", "lastuseddate"} & keys):
        return "OauthToken"
    if {"action", "section", "createddate"} <= keys:
        return "SetupAuditTrail"
    return None


def describe_shape(record: Any) -> str:
    if not isinstance(record, Mapping):
        return f"a JSON {type(record).__name__}, not an object"
    if "Tests" in record and "RuleID" in record:
        return "a Panther rule test file (RuleID/Tests), not a Salesforce export"
    if {"message", "errorCode"} <= set(record):
        return f"a Salesforce error response ({record.get('errorCode')}), not a record"
    if "access_token" in record or "error_description" in record:
        return "an OAuth token-endpoint response, not a record"
    keys = ", ".join(sorted(map(str, record))[:8])
    return f"not a record tokensentry knows (keys: {keys}{', …' if len(record) > 8 else ''})"


def elf_row(record: Mapping[str, Any]) -> dict[str, str | None]:
    """An ELF row as JSON (any key case) → upper-case column names and text values."""
    row: dict[str, str | None] = {}
    for key, value in record.items():
        name = scrub_text(str(key)).upper()  # a token-shaped key must not become a column
        if value is None or value == "":
            row[name] = None  # as DuckDB reads Salesforce's quoted empty CSV values
        elif name == "TIMESTAMP" and isinstance(value, float):
            row[name] = f"{value:.3f}"  # JSON numbers drop the trailing zeros of .130
        elif isinstance(value, bool):
            row[name] = "1" if value else "0"
        elif isinstance(value, (dict, list)):
            row[name] = json.dumps(value)
        else:
            row[name] = str(value)
    return row


# -- helpers ------------------------------------------------------------------------------------


def _oauth_flow(login_type: str | None, sub_type: str | None) -> tuple[str | None, str | None]:
    """(grant_type, sub-type label) from any spelling of LoginSubType."""
    known = SUBTYPE_GRANT.get(subtype_key(sub_type))
    if known:
        return known
    if login_type == "Remote Access 2.0":
        return "oauth_unspecified", sub_type
    if login_type == "Application":
        return "ui", sub_type
    return None, sub_type


def _login_fields(flat: Mapping[str, Any]) -> dict[str, Any]:
    raw_type = _text(flat, "LoginType")
    login_type = LOGIN_TYPE_API_NAMES.get(raw_type or "", raw_type)
    grant, sub_label = _oauth_flow(login_type, _text(flat, "LoginSubType"))
    status = _text(flat, "Status")
    application = _text(flat, "Application")
    return {
        "event_type": "login",
        "grant_type": grant,
        "is_success": None if status is None else status == "Success",
        "status": status,
        "user_id": _sf_id(flat, "UserId"),
        "app_name": application if login_type in OAUTH_LOGIN_TYPES else None,
        "source_ip": _ip(_text(flat, "SourceIp")),
        "login_type": login_type,
        "login_sub_type": sub_label,
    }


# -- normalizers --------------------------------------------------------------------------------


def _staged_login(
    record: Mapping[str, Any], flat: dict[str, Any], default_org: str | None, line: int | None,
    *, source_id: str, time_field: str, key_fields: tuple[str, ...], extra: dict[str, Any],
) -> StagedRecord:  # fmt: skip
    """A login seen by LoginHistory or LoginEvent: common fields, then the object's own."""
    occurred = _time(flat, time_field, required=True)
    event = _login_fields(flat)
    event.update(extra)
    return StagedRecord(
        org_id=_org(default_org),
        source_id=source_id,
        record_id=_record_key(flat, *key_fields),
        occurred_at=occurred,
        payload=redact(dict(record)),
        line=line,
        event=event,
        is_login=True,
        key_fixes_time=True,  # a login record's Id is one LoginTime
    )


def login_history(
    record: Mapping[str, Any], default_org: str | None, line: int | None
) -> StagedRecord:
    flat = flatten(record)
    return _staged_login(
        record, flat, default_org, line, source_id="soql:LoginHistory", time_field="LoginTime",
        key_fields=("Id", "attributes.url"),
        extra={
            "country_iso": _text(flat, "CountryIso", "LoginGeo.CountryIso"),
            "city": _text(flat, "LoginGeo.City"),
            "latitude": _number(flat, "LoginGeo.Latitude"),
            "longitude": _number(flat, "LoginGeo.Longitude"),
            "login_history_id": _text(flat, "Id") or _record_key(flat, "attributes.url"),
        },
    )  # fmt: skip


def login_event(
    record: Mapping[str, Any], default_org: str | None, line: int | None
) -> StagedRecord:
    flat = flatten(record)
    return _staged_login(
        record, flat, default_org, line, source_id="soql:LoginEvent", time_field="EventDate",
        key_fields=("EventIdentifier", "Id", "attributes.url"),
        extra={
            "username": _text(flat, "Username"),
            "country_iso": _text(flat, "CountryIso"),
            "city": _text(flat, "City"),
            "latitude": _number(flat, "LoginLatitude"),
            "longitude": _number(flat, "LoginLongitude"),
            "login_key": _text(flat, "LoginKey"),
            "session_key": _text(flat, "SessionKey"),
            "login_history_id": _text(flat, "LoginHistoryId"),
        },
    )  # fmt: skip


def logout_event(
    record: Mapping[str, Any], default_org: str | None, line: int | None
) -> StagedRecord:
    flat = flatten(record)
    occurred = _time(flat, "EventDate", required=True)
    return StagedRecord(
        org_id=_org(default_org),
        source_id="soql:LogoutEvent",
        key_fixes_time=True,
        record_id=_record_key(flat, "EventIdentifier", "Id", "attributes.url"),
        occurred_at=occurred,
        payload=redact(dict(record)),
        line=line,
        event={
            "event_type": "logout",
            "user_id": _sf_id(flat, "UserId"),
            "username": _text(flat, "Username"),
            "source_ip": _ip(_text(flat, "SourceIp")),
            "login_key": _text(flat, "LoginKey"),
            "session_key": _text(flat, "SessionKey"),
        },
    )


def soql_other(
    record: Mapping[str, Any], default_org: str | None, line: int | None
) -> StagedRecord:
    """Any other Salesforce record: kept verbatim in raw_records, no event."""
    flat = flatten(record)
    kind = classify(record) or "Unknown"
    occurred = None
    for name in ("EventDate", "CreatedDate", "LogDate", "LoginTime"):
        try:
            occurred = _time(flat, name, required=False)
        except RecordProblem:
            occurred = None
        if occurred:
            break
    return StagedRecord(
        org_id=_org(default_org),
        source_id=f"soql:{kind}",
        key_fixes_time=occurred is not None,  # an Id's CreatedDate (or the like) holds
        record_id=_record_key(flat, "Id", "EventIdentifier", "attributes.url"),
        occurred_at=occurred,
        payload=redact(dict(record)),
        line=line,
    )


def _preview_record(record: object) -> str:
    try:
        return json.dumps(redact(record), default=str)[:4000]
    except (TypeError, ValueError):
        return repr(record)[:4000]


def normalizer_for(
    kind: str,
) -> Callable[[Mapping[str, Any], str | None, int | None], StagedRecord]:
    """The normalizer of a record kind; any other Salesforce object is kept raw only."""
    return {
        "LoginHistory": login_history,
        "LoginEvent": login_event,
        "LoginEventStream": login_event,
        "LogoutEvent": logout_event,
        "LogoutEventStream": logout_event,
        "OauthToken": oauth_token,
        "OAuthUsageToken": oauth_usage_token,
        "partner_token_log": partner_token_log,
        **threat_normalizers(),
    }.get(kind, soql_other)
