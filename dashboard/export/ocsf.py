"""Alerts and incidents as OCSF Detection Findings (class 2004, category 2 Findings), for a SIEM.

OCSF_VERSION is the schema the records are written against and validated with in the tests
(offline, against that version's published schema). The mapping reads the records every other
surface prints (`queries.alert_records`, `queries.incident_records`: CONTRACT §5), so a finding
carries the same facts and the same id as `alerts --format json`, the digest and `/alert?id=`:

- `finding_info.uid` is the stable `alert_id` (or `incident_id`); `metadata.uid` too.
- `severity_id`: info 1 Informational, low 2, medium 3, high 4, critical 5.
- `status_id` from the analyst's triage: new 1 New, acknowledged 2 In Progress, resolved 4
  Resolved, false_positive 3 Suppressed (OCSF: reviewed, benign or a false positive); the native
  status is kept in `status_detail`.
- `activity_id`: 1 Create for a finding never updated, 2 Update once detection updated it,
  3 Close once triaged resolved or false positive.
- observables: every source IP (type 2), the Salesforce user id (31 User Object: uid), the
  username when a source named it (4 User Name), the app (99 Other: OCSF has no app type), the
  org (10 Resource UID); each `name` is the path of the attribute it points at.
- evidences: one artifact per source IP (`src_endpoint.ip`, with the app and user as the
  actor), then the detector's own evidence object verbatim in `data`.
- the detector's runbook as `remediation.desc`, its MITRE ATT&CK techniques as `attacks`.

Every string in a record is data (JSON escapes it); nothing here interprets it.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib import metadata as package_metadata
from typing import Any

OCSF_VERSION = "1.5.0"
CLASS_UID = 2004
CLASS_NAME = "Detection Finding"
CATEGORY_UID = 2
CATEGORY_NAME = "Findings"
PRODUCT_NAME = "tokensentry"
VENDOR_NAME = "tokensentry"

SEVERITY_IDS = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
SEVERITY_NAMES = {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}
STATUS_IDS = {"new": 1, "acknowledged": 2, "false_positive": 3, "resolved": 4}
STATUS_NAMES = {1: "New", 2: "In Progress", 3: "Suppressed", 4: "Resolved"}
ACTIVITY_NAMES = {1: "Create", 2: "Update", 3: "Close"}
CLOSED = ("resolved", "false_positive")

# Observable type ids (OCSF 1.5.0 observable.type_id).
IP_ADDRESS, USER_NAME, RESOURCE_UID, USER_UID, OTHER = 2, 4, 10, 31, 99
OBSERVABLE_TYPES = {
    IP_ADDRESS: "IP Address",
    USER_NAME: "User Name",
    RESOURCE_UID: "Resource UID",
    USER_UID: "User Object: uid",
    OTHER: "Other",
}
ANALYTIC_RULE = 1  # analytic.type_id: the detectors are rules over the event history
ANALYTIC_STATISTICAL = 3
STATISTICAL_DETECTORS = ("anomaly_score",)


def alert_finding(record: Mapping[str, Any], *, dashboard_url: str | None = None) -> dict[str, Any]:
    """One alert (a CONTRACT §5 record) as an OCSF Detection Finding."""
    record = missing_as_none(record)
    detector = _detectors().get(record["detector"])
    activity = _activity(record["status"], record.get("created_at"), record.get("updated_at"))
    severity_id = SEVERITY_IDS[record["severity"]]
    status_id = STATUS_IDS[record["status"]]
    first, last = _ms(record["first_seen"]), _ms(record["last_seen"])
    ips: list[str] = list(record.get("ips") or [])
    actor = _actor(record)
    analytic: dict[str, Any] = {
        "uid": record["detector"],
        "name": detector.title if detector else record["detector"],
        "type_id": ANALYTIC_STATISTICAL
        if record["detector"] in STATISTICAL_DETECTORS
        else ANALYTIC_RULE,
    }
    analytic["type"] = "Statistical" if analytic["type_id"] == ANALYTIC_STATISTICAL else "Rule"
    if detector:
        analytic["desc"] = detector.description
    info: dict[str, Any] = {
        "uid": record["alert_id"],
        "title": record.get("title") or record["summary"],
        "desc": record["summary"],
        "types": [record["detector"]],
        "first_seen_time": first,
        "last_seen_time": last,
        "analytic": analytic,
        "product_uid": PRODUCT_NAME,
    }
    _put(info, "created_time", _ms(record.get("created_at")))
    _put(info, "modified_time", _ms(record.get("updated_at")))
    if dashboard_url:
        info["src_url"] = _link(dashboard_url, "alert", record["alert_id"])
    if detector and detector.attack:
        info["attacks"] = [_attack(technique) for technique in detector.attack]
    evidences: list[dict[str, Any]] = [
        {"src_endpoint": {"ip": ip}, **({"actor": actor} if actor else {})} for ip in ips
    ]
    if not ips and actor:
        evidences.append({"actor": actor})
    evidences.append({"name": "detector evidence", "data": record.get("evidence") or {}})
    finding = _envelope(activity, severity_id, status_id, record["status"], first, last)
    finding.update(
        {
            "message": record["summary"],
            "count": int(record.get("event_count") or 0),
            "finding_info": info,
            "metadata": _metadata(record["alert_id"], record["detector"], record.get("org_id")),
            "observables": _observables(record, ips),
            "evidences": evidences,
            "unmapped": _unmapped(record, ("alert_id", "detector", "severity", "status")),
        }
    )
    if record.get("org_id"):
        finding["resources"] = [_org_resource(record["org_id"])]
    if detector and detector.runbook:
        finding["remediation"] = {"desc": detector.runbook}
    return finding


def incident_finding(
    record: Mapping[str, Any], *, dashboard_url: str | None = None
) -> dict[str, Any]:
    """One incident (the `alerts --incidents --format json` record) as a Detection Finding:
    `finding_info.uid` is the incident id, `types` its detectors, `count` its alerts."""
    record = missing_as_none(record)
    activity = _activity(record["status"], None, None)
    severity_id = SEVERITY_IDS[record["severity"]]
    status_id = STATUS_IDS[record["status"]]
    first, last = _ms(record["first_seen"]), _ms(record["last_seen"])
    ips: list[str] = list(record.get("ips") or [])
    actor = _actor(record)
    info: dict[str, Any] = {
        "uid": record["incident_id"],
        "title": record["summary"],
        "desc": record["summary"],
        "types": list(record.get("detectors") or []) or ["incident"],
        "first_seen_time": first,
        "last_seen_time": last,
        "product_uid": PRODUCT_NAME,
    }
    if dashboard_url:
        info["src_url"] = _link(dashboard_url, "incident", record["incident_id"])
    attacks = sorted(
        {t for d in record.get("detectors") or [] for t in _attack_ids(d)},
    )
    if attacks:
        info["attacks"] = [_attack(technique) for technique in attacks]
    evidences: list[dict[str, Any]] = [
        {"src_endpoint": {"ip": ip}, **({"actor": actor} if actor else {})} for ip in ips
    ]
    if not evidences:
        evidences.append({"name": "incident", "data": {"alert_count": record["alert_count"]}})
    finding = _envelope(activity, severity_id, status_id, record["status"], first, last)
    finding.update(
        {
            "message": record["summary"],
            "count": int(record.get("alert_count") or 0),
            "finding_info": info,
            "metadata": _metadata(record["incident_id"], "incident", record.get("org_id")),
            "observables": _observables(record, ips),
            "evidences": evidences,
            "unmapped": _unmapped(record, ("incident_id", "severity", "status")),
        }
    )
    if record.get("org_id"):
        finding["resources"] = [_org_resource(record["org_id"])]
    return finding


def alert_findings(
    records: Iterable[Mapping[str, Any]], *, dashboard_url: str | None = None
) -> list[dict[str, Any]]:
    return [alert_finding(r, dashboard_url=dashboard_url) for r in records]


def incident_findings(
    records: Iterable[Mapping[str, Any]], *, dashboard_url: str | None = None
) -> list[dict[str, Any]]:
    return [incident_finding(r, dashboard_url=dashboard_url) for r in records]


def ndjson(records: Iterable[Mapping[str, Any]]) -> str:
    """One compact JSON object per line (Splunk HEC raw, Elastic _bulk bodies, Sentinel's
    Logs Ingestion, Security Lake custom sources): non-ASCII and control characters escaped,
    so a value can never break a line."""
    return "".join(json.dumps(r, separators=(",", ":"), default=str) + "\n" for r in records)


def missing_as_none(record: Mapping[str, Any]) -> dict[str, Any]:
    """A NULL read through pandas comes back as NaN (incident records keep it): None here, so
    a missing app or user is left out instead of written as a number."""
    return {
        key: None if isinstance(value, float) and math.isnan(value) else value
        for key, value in record.items()
    }


def _envelope(
    activity: int, severity_id: int, status_id: int, status: str, first: int, last: int
) -> dict[str, Any]:
    return {
        "class_uid": CLASS_UID,
        "class_name": CLASS_NAME,
        "category_uid": CATEGORY_UID,
        "category_name": CATEGORY_NAME,
        "activity_id": activity,
        "activity_name": ACTIVITY_NAMES[activity],
        "type_uid": CLASS_UID * 100 + activity,
        "type_name": f"{CLASS_NAME}: {ACTIVITY_NAMES[activity]}",
        "severity_id": severity_id,
        "severity": SEVERITY_NAMES[severity_id],
        "status_id": status_id,
        "status": STATUS_NAMES[status_id],
        "status_detail": status,
        "is_alert": True,
        "time": last,
        "start_time": first,
        "end_time": last,
    }


def _activity(status: str, created_at: str | None, updated_at: str | None) -> int:
    if status in CLOSED:
        return 3
    return 2 if created_at and updated_at and updated_at > created_at else 1


def _actor(record: Mapping[str, Any]) -> dict[str, Any] | None:
    actor: dict[str, Any] = {}
    if record.get("app"):
        actor["app_name"] = record["app"]
    user: dict[str, Any] = {}
    if record.get("user_id"):
        user["uid"] = record["user_id"]
    if record.get("username"):
        user["name"] = record["username"]
    if user:
        actor["user"] = user
    return actor or None


def _observables(record: Mapping[str, Any], ips: list[str]) -> list[dict[str, Any]]:
    found = [
        _observable(f"evidences[{index}].src_endpoint.ip", IP_ADDRESS, ip)
        for index, ip in enumerate(ips)
    ]
    actor_path = "evidences[0].actor"
    if record.get("user_id"):
        found.append(_observable(f"{actor_path}.user.uid", USER_UID, record["user_id"]))
    if record.get("username"):
        found.append(_observable(f"{actor_path}.user.name", USER_NAME, record["username"]))
    if record.get("app"):
        found.append(_observable(f"{actor_path}.app_name", OTHER, record["app"]))
    if record.get("org_id"):
        found.append(_observable("resources[0].uid", RESOURCE_UID, record["org_id"]))
    return found


def _observable(name: str, type_id: int, value: str) -> dict[str, Any]:
    return {"name": name, "type_id": type_id, "type": OBSERVABLE_TYPES[type_id], "value": value}


def _org_resource(org_id: str) -> dict[str, Any]:
    return {"uid": org_id, "type": "Salesforce Organization"}


def _metadata(uid: str, event_code: str, org_id: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "version": OCSF_VERSION,
        "uid": uid,
        "event_code": event_code,
        "log_name": "alerts" if event_code != "incident" else "incidents",
        "product": {
            "name": PRODUCT_NAME,
            "vendor_name": VENDOR_NAME,
            "version": _product_version(),
        },
    }
    if org_id:
        meta["tenant_uid"] = org_id
    return meta


def _unmapped(record: Mapping[str, Any], already: tuple[str, ...]) -> dict[str, Any]:
    """The native record's remaining fields (org, app, user, incident, notes...), so nothing
    the JSON export carries is lost; `unmapped` is OCSF's place for them."""
    return {key: value for key, value in record.items() if key not in already and key != "evidence"}


def _attack(technique: str) -> dict[str, Any]:
    base, _, sub = technique.partition(".")
    attack: dict[str, Any] = {"technique": {"uid": base}}
    if sub:
        attack["sub_technique"] = {"uid": technique}
    return attack


def _attack_ids(detector_id: str) -> tuple[str, ...]:
    detector = _detectors().get(detector_id)
    return detector.attack if detector else ()


def _link(base: str, page: str, uid: str) -> str:
    from urllib.parse import quote

    return f"{base.rstrip('/')}/{page}?id={quote(uid, safe='')}"


def _ms(moment: Any) -> int | None:
    """ISO 8601 text (`2024-05-01T12:00:00.000Z`) or a datetime as epoch milliseconds (OCSF
    timestamp_t)."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        target[key] = value


@functools.lru_cache(maxsize=1)
def _detectors() -> dict[str, Any]:
    from detect import registry

    return registry.by_id()


@functools.lru_cache(maxsize=1)
def _product_version() -> str:
    try:
        return package_metadata.version("tokensentry")
    except package_metadata.PackageNotFoundError:
        return "0.1.0"
