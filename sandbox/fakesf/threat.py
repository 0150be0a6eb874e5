"""Shield Threat Detection in the fake Salesforce: the four storage objects, strict about fields
and API versions, served only by orgs configured with Threat Detection.

Built from Salesforce's pages (Platform Events Developer Guide, "SessionHijackingEventStore",
"CredentialStuffingEventStore", "ApiAnomalyEventStore", "ReportAnomalyEventStore"; the Field
Reference tables of the same names): the objects support query(); ApiAnomalyEventStore exists
from API 50.0, the other three from 49.0; CredentialStuffingEventStore has no
SecurityEventData. An org without the licence answers INVALID_TYPE through the server's
generic check (`FakeOrg.licensed_objects`); a query at an API version older than the object
answers INVALID_TYPE too, and a field the object does not have answers INVALID_FIELD, as
Salesforce does. The field lists are the fake's own copy of the documentation, not the
product's (`ingest/formats/threat.py`), so a field the product asks for by mistake fails here.

`enable(org, findings)` gives an org the objects; `finding(...)` builds one stored record.
Id key prefixes are not documented on those pages: the fake uses `0Tx` (made up).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta
from typing import Any

from ..salesforce import soql_time
from . import soql
from .model import ApiError, FakeOrg

_SYSTEM = (
    "Id", "CreatedDate", "LastModifiedDate", "SystemModstamp", "LastReferencedDate",
    "LastViewedDate", "EvaluationTime", "EventDate", "EventIdentifier", "UserId", "Username",
    "SourceIp", "LoginKey", "SessionKey", "PolicyId", "PolicyOutcome", "Score", "Summary",
)  # fmt: skip
_FINGERPRINT = tuple(
    f"{when}{what}"
    for when in ("Current", "Previous")
    for what in ("Ip", "Platform", "Screen", "UserAgent", "Window")
)
# object → (API version it appeared in, its fields)
OBJECTS: dict[str, tuple[float, frozenset[str]]] = {
    "SessionHijackingEventStore": (
        49.0,
        frozenset((*_SYSTEM, *_FINGERPRINT, "SecurityEventData", "SessionHijackingEventNumber")),
    ),
    "CredentialStuffingEventStore": (
        49.0,
        frozenset(
            (
                *_SYSTEM,
                "AcceptLanguage",
                "CredentialStuffingEventNumber",
                "LoginType",
                "LoginUrl",
                "UserAgent",
            )
        ),
    ),
    "ApiAnomalyEventStore": (
        50.0,
        frozenset(
            (
                *_SYSTEM,
                "ApiAnomalyEventNumber",
                "Operation",
                "QueriedEntities",
                "RequestIdentifier",
                "RowsProcessed",
                "SecurityEventData",
                "Uri",
                "UserAgent",
            )
        ),
    ),
    "ReportAnomalyEventStore": (
        49.0,
        frozenset((*_SYSTEM, "Report", "ReportAnomalyEventNumber", "SecurityEventData")),
    ),
}
PROCESSING_DELAY = timedelta(minutes=20)  # "a brief processing time" before a finding is stored


def check(parsed: soql.Query, version: str) -> None:
    """Salesforce's refusals for a query of a Threat Detection object the org has."""
    spec = OBJECTS.get(parsed.sobject)
    if spec is None:
        return
    since, fields = spec
    if float(version) < since:
        raise ApiError(
            400,
            "INVALID_TYPE",
            f"sObject type '{parsed.sobject}' is not supported. If you are attempting to use a "
            "custom object, be sure to append the '__c' after the entity name.",
        )
    known = {name.lower() for name in fields}
    used = [*parsed.fields, *soql.where_fields(parsed.where), *(o[0] for o in parsed.order)]
    for name in used:
        if name.lower() not in known:
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"No such column '{name}' on entity '{parsed.sobject}'. If you are attempting "
                "to use a custom field, be sure to append the '__c' after the custom field "
                "name. Please reference your WSDL or the describe call for the appropriate "
                "names.",
            )


def enable(org: FakeOrg, findings: list[dict[str, Any]]) -> None:
    """Give `org` Threat Detection, holding `findings` (records built by `finding`)."""
    org.licensed_objects.update(OBJECTS)
    for name in OBJECTS:
        org.objects.setdefault(name, [])
    for record in findings:
        org.objects[record["attributes"]["type"]].append(record)


def finding(
    sobject: str, org_id: str, event_date: datetime, *, user_id: str, username: str,
    source_ip: str, score: float, summary: str, event_data: str | None = None,
    policy_outcome: str = "NoAction", session_key: str | None = None,
    login_key: str | None = None, **own: Any,
) -> dict[str, Any]:  # fmt: skip
    """One stored finding as the REST API returns it; `own` holds the object's own fields."""
    _, fields = OBJECTS[sobject]
    unknown = set(own) - fields
    if unknown:
        raise ValueError(f"{sobject} has no field {sorted(unknown)}")
    seed = hashlib.md5(f"{org_id}|{sobject}|{event_date.isoformat()}|{user_id}".encode())
    record_id = ("0Tx" + seed.hexdigest())[:18]
    created = soql_time(event_date + PROCESSING_DELAY)
    record: dict[str, Any] = {
        "attributes": {
            "type": sobject,
            "url": f"/services/data/v62.0/sobjects/{sobject}/{record_id}",
        },
        "Id": record_id,
        "CreatedDate": created,
        "LastModifiedDate": created,
        "SystemModstamp": created,
        "LastReferencedDate": None,
        "LastViewedDate": None,
        "EvaluationTime": 0.0,
        "EventDate": soql_time(event_date),
        "EventIdentifier": str(uuid.UUID(seed.hexdigest())),
        "UserId": user_id,
        "Username": username,
        "SourceIp": source_ip,
        "LoginKey": login_key,
        "SessionKey": session_key,
        "PolicyId": None,
        "PolicyOutcome": policy_outcome,
        "Score": score,
        "Summary": summary,
        **own,
    }
    if "SecurityEventData" in fields:
        record["SecurityEventData"] = event_data
    return record
