"""Shield Threat Detection findings: the four `...EventStore` objects, recognised and normalized.

Salesforce's Threat Detection (Event Monitoring / Shield) stores each finding in a queryable
storage object; one normalizer turns any of them into an event of type `threat_detection`
that keeps Salesforce's verdict (Score, Summary, SecurityEventData, PolicyOutcome) next to the
session, user and address it is about, so detectors and incident linking can join it to the
rest of the store.

Verified in Salesforce's documentation (Platform Events Developer Guide and Field Reference):

- SessionHijackingEventStore, API 49.0+, calls include query(); needs Shield or the Event
  Monitoring add-on and View Real-Time Event Monitoring Data. Fields: CurrentIp, PreviousIp,
  Current/PreviousUserAgent, Current/PreviousPlatform, Current/PreviousScreen,
  Current/PreviousWindow, EvaluationTime, EventDate (Filter, Sort), EventIdentifier, Id,
  LastReferencedDate, LastViewedDate, LoginKey, SessionKey, PolicyId, PolicyOutcome,
  Score (double 12,6), SecurityEventData (label "Event Data", textarea 10000), Summary
  (textarea 1000), SessionHijackingEventNumber, SourceIp, UserId, Username.
  https://developer.salesforce.com/docs/atlas.en-us.platform_events.meta/platform_events/sforce_api_objects_sessionhijackingeventstore.htm
  https://developer.salesforce.com/docs/atlas.en-us.sfFieldRef.meta/sfFieldRef/salesforce_field_reference_SessionHijackingEventStore.htm
- CredentialStuffingEventStore, API 49.0+ (beta in 48.0), query(); same licence and permission.
  Fields: AcceptLanguage, CredentialStuffingEventNumber, EvaluationTime, EventDate,
  EventIdentifier, Id, LastReferencedDate, LastViewedDate, LoginKey, LoginType, LoginUrl,
  PolicyId, PolicyOutcome, Score, SessionKey, SourceIp, Summary, UserAgent, UserId, Username.
  It has **no** SecurityEventData. A row means a user logged in *successfully* during an
  identified credential-stuffing attack.
  https://developer.salesforce.com/docs/atlas.en-us.platform_events.meta/platform_events/sforce_api_objects_credentialstuffingeventstore.htm
  https://developer.salesforce.com/docs/platform/field-reference/references/field-reference/salesforce-field-reference-credentialstuffingevent.html
- ApiAnomalyEventStore, API **50.0**+, query(); same licence and permission. Fields:
  ApiAnomalyEventNumber, EvaluationTime, EventDate, EventIdentifier, Id, LastReferencedDate,
  LastViewedDate, LoginKey, Operation, PolicyId, PolicyOutcome, QueriedEntities,
  RequestIdentifier, RowsProcessed, Score, SecurityEventData, SessionKey, SourceIp, Summary,
  Uri, UserAgent, UserId, Username. Score: "a number from 0 through 100" (anomaly score).
  https://developer.salesforce.com/docs/platform/platform-events/guide/sforce-api-objects-apianomalyeventstore.html
  https://developer.salesforce.com/docs/atlas.en-us.sfFieldRef.meta/sfFieldRef/salesforce_field_reference_ApiAnomalyEventStore.htm
- ReportAnomalyEventStore, API 49.0+, query(); same licence and permission. Fields:
  EvaluationTime, EventDate, EventIdentifier, Id, LastReferencedDate, LastViewedDate, LoginKey,
  PolicyId, PolicyOutcome, Report, ReportAnomalyEventNumber, Score, SecurityEventData,
  SessionKey, SourceIp, Summary, UserId, Username. Score: "a number from 0 through 100";
  SecurityEventData: the top contributing features of the anomaly.
  https://developer.salesforce.com/docs/platform/platform-events/guide/sforce-api-objects-reportanomalyeventstore.html
  https://developer.salesforce.com/docs/platform/field-reference/references/field-reference/salesforce-field-reference-reportanomalyeventstore.html
- All four say the ML models take "a brief processing time", so a finding is stored some time
  after its EventDate (hence the source's re-read lag). PolicyOutcome is a restricted picklist:
  Error, ExemptNoAction, MeteringBlock, MeteringNoAction, NoAction, Notified (and Block,
  EndSession on other event objects).
  https://developer.salesforce.com/docs/atlas.en-us.platform_events.meta/platform_events/sforce_api_objects_apianomalyevent.htm

Not verified (the stored docs do not say): the range of Score for session hijacking and
credential stuffing (only its type, double 12,6), the shape of SecurityEventData beyond "JSON
text", and the objects' Id key prefixes. The detector therefore uses Score only where its
0-100 scale is documented. LastReferencedDate / LastViewedDate (who last viewed the record in
Setup) are documented but not read: they say nothing about the threat.

A record is recognised by `attributes.type` (REST) or, in an export, by the columns only its
object has (`kind_of_columns`); every string of it is attacker-influenced (a hijacker chooses
the user agent; Summary quotes what it saw) and is stored as text, never interpreted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..load import StagedRecord
from ..vocab import LOGIN_TYPE_API_NAMES
from .fields import RecordProblem, _ip, _number, _org, _record_key, _sf_id, _text, _time, flatten
from .redact import redact

COMMON_FIELDS = (
    "Id", "EventIdentifier", "EventDate", "UserId", "Username", "SourceIp", "Score", "Summary",
    "PolicyId", "PolicyOutcome", "EvaluationTime", "LoginKey", "SessionKey",
)  # fmt: skip


@dataclass(frozen=True)
class ThreatObject:
    name: str  # the storage object's API name
    kind: str  # events.threat_kind
    label: str  # for summaries
    since_version: float  # API version that introduced the object
    own_fields: tuple[str, ...]  # beyond COMMON_FIELDS
    has_event_data: bool  # SecurityEventData exists on the object
    markers: frozenset[str]  # lower-case columns only this object has (export recognition)

    @property
    def number_field(self) -> str:
        return self.name.removesuffix("Store") + "Number"

    @property
    def fields(self) -> tuple[str, ...]:
        data = ("SecurityEventData",) if self.has_event_data else ()
        return (*COMMON_FIELDS, *data, *self.own_fields)


_HIJACK_FIELDS = tuple(
    f"{when}{what}"
    for what in ("Ip", "UserAgent", "Platform", "Screen", "Window")
    for when in ("Current", "Previous")
)

OBJECTS: dict[str, ThreatObject] = {
    o.name: o
    for o in (
        ThreatObject(
            "SessionHijackingEventStore", "session_hijacking", "session hijacking", 49.0,
            _HIJACK_FIELDS, True, frozenset(f.lower() for f in _HIJACK_FIELDS),
        ),
        ThreatObject(
            "CredentialStuffingEventStore", "credential_stuffing", "credential stuffing", 49.0,
            ("AcceptLanguage", "LoginType", "LoginUrl", "UserAgent"), False,
            frozenset({"acceptlanguage"}),
        ),
        ThreatObject(
            "ApiAnomalyEventStore", "api_anomaly", "API anomaly", 50.0,
            ("Operation", "QueriedEntities", "RequestIdentifier", "RowsProcessed", "Uri",
             "UserAgent"),
            True, frozenset({"uri", "operation", "queriedentities", "requestidentifier"}),
        ),
        ThreatObject(
            "ReportAnomalyEventStore", "report_anomaly", "report anomaly", 49.0, ("Report",), True,
            frozenset({"report"}),
        ),
    )
}  # fmt: skip
BY_KIND = {o.kind: o for o in OBJECTS.values()}
# Columns a Threat Detection export has and a LoginEvent / ApiEvent export has not.
_VERDICT_COLUMNS = frozenset({"score", "summary", "securityeventdata"})
# Fields kept in `threat_context`: the object's own, plus the policy that judged it.
_CONTEXT_SKIP = frozenset(
    {"id", "eventidentifier", "eventdate", "userid", "username", "sourceip", "score", "summary",
     "securityeventdata", "policyoutcome", "loginkey", "sessionkey"}
)  # fmt: skip


def kind_of_columns(keys: set[str]) -> str | None:
    """The storage object an export's lower-case column names belong to, or None.

    Its autonumber (e.g. SessionHijackingEventNumber) names it outright; otherwise a verdict
    column (Score, Summary, SecurityEventData) plus a column only that object has."""
    for threat in OBJECTS.values():
        if threat.number_field.lower() in keys:
            return threat.name
    if not keys & _VERDICT_COLUMNS:
        return None
    found = [threat.name for threat in OBJECTS.values() if keys & threat.markers]
    return found[0] if len(found) == 1 else None


def _event_data(flat: Mapping[str, Any]) -> str | None:
    value = flat.get("securityeventdata")
    if value in (None, ""):
        return None
    if isinstance(value, (dict, list)):  # a JSON export may carry it parsed
        return json.dumps(value, sort_keys=True)
    return str(value)


def _context(record: Mapping[str, Any], threat: ThreatObject) -> str | None:
    """The object's own fields (and PolicyId, EvaluationTime), by their API names, as JSON."""
    wanted = {name.lower(): name for name in threat.fields if name.lower() not in _CONTEXT_SKIP}
    flat = flatten(record)
    context: dict[str, Any] = {}
    for key, name in wanted.items():
        value = flat.get(key)
        if value in (None, ""):
            continue
        if name in ("CurrentIp", "PreviousIp"):
            value = _ip(str(value), name)
            if value is None:
                continue
        context[name] = value
    return json.dumps(context, sort_keys=True, default=str) if context else None


def threat_event(
    object_name: str, record: Mapping[str, Any], default_org: str | None, line: int | None
) -> StagedRecord:
    threat = OBJECTS[object_name]
    flat = flatten(record)
    occurred = _time(flat, "EventDate", required=True)
    score = _number(flat, "Score")
    if score is not None and not 0 <= score <= 1_000_000:  # double(12,6): never negative
        raise RecordProblem(f"Score {score!r} is outside what Salesforce's Score can hold")
    source_ip = _ip(_text(flat, "SourceIp")) or _ip(_text(flat, "CurrentIp"), "CurrentIp")
    rows = _number(flat, "RowsProcessed")
    raw_login_type = _text(flat, "LoginType")
    return StagedRecord(
        org_id=_org(default_org),
        source_id=f"soql:{threat.name}",
        key_fixes_time=True,
        record_id=_record_key(flat, "EventIdentifier", "Id", "attributes.url"),
        occurred_at=occurred,
        payload=redact(dict(record)),
        line=line,
        event={
            "event_type": "threat_detection",
            "threat_kind": threat.kind,
            "threat_score": score,
            "threat_summary": _text(flat, "Summary"),
            "threat_data": _event_data(flat),
            "threat_context": _context(record, threat),
            "policy_outcome": _text(flat, "PolicyOutcome"),
            "user_id": _sf_id(flat, "UserId"),
            "username": _text(flat, "Username"),
            "source_ip": source_ip,
            "login_key": _text(flat, "LoginKey"),
            "session_key": _text(flat, "SessionKey"),
            "user_agent": _text(flat, "UserAgent", "CurrentUserAgent"),
            "api_resource": _text(flat, "Uri", "Report"),
            "rows_processed": None if rows is None else int(rows),
            "request_id": _text(flat, "RequestIdentifier"),
            "login_type": LOGIN_TYPE_API_NAMES.get(raw_login_type or "", raw_login_type),
        },
    )


def normalizers() -> dict[str, Callable[[Mapping[str, Any], str | None, int | None], StagedRecord]]:
    """Record kind → normalizer, for `records.normalizer_for`."""
    return {name: partial(threat_event, name) for name in OBJECTS}
