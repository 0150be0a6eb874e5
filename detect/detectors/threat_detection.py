"""A finding of Salesforce's own Threat Detection (Shield / Event Monitoring), raised as an alert.

Why it matters: Salesforce watches what tokensentry cannot see (browser fingerprints, the
whole org's login traffic, report and API behaviour against each user's baseline) and stores
what its models flag: a session used from a browser that is not its owner's (session
hijacking), a successful login during a credential-stuffing attack, an unusual API query or
report export. Raising each finding here puts Salesforce's verdict in the same queue as our
own alerts, and incident linking joins it to them by the session (SessionKey / LoginKey), the
address and the person: a hijacked session whose stolen token then refreshes from outside the
allowlist is one story, one incident.

It reads events of type `threat_detection` (the `threat_detection` ingest source, or exports of
the four `...EventStore` objects imported with `tokensentry import`). One alert per finding.

Severity, from Salesforce's score and policy outcome:
- session hijacking and credential stuffing: high (Salesforce stores one only when it judged the
  session taken over, or a stuffing attack's login successful); their Score's scale is not
  documented, so it is shown, never compared;
- API and report anomalies: by Score, documented as 0-100: at or above `high_score` (90) high,
  at or above `medium_score` (70) medium, below low; no score: medium;
- PolicyOutcome Block, MeteringBlock or EndSession (a transaction security policy stopped the
  action or the session) lowers it one step: the attempt is still evidence, the harm was
  prevented. Any other outcome (NoAction, Notified, Error, ExemptNoAction...) changes nothing.

Summary, SecurityEventData and the fingerprint fields are attacker-influenced text: kept in the
evidence as strings, shown only through the dashboard's text boundary.

Blind spots: orgs without Threat Detection; findings Salesforce stores more than a day after
their EventDate (the source re-reads 24 h); Salesforce's false positives are passed through as
they are (triage them here as false_positive).
"""

from __future__ import annotations

import json
from typing import Any

from ingest.netlist import parse_ip

from ..detector import SEVERITIES, Context, Detector, Example, Finding, Severity
from ..testing import HUMAN, USER, event

LABELS = {
    "session_hijacking": ("SessionHijackingEventStore", "session hijacking"),
    "credential_stuffing": ("CredentialStuffingEventStore", "credential stuffing"),
    "api_anomaly": ("ApiAnomalyEventStore", "an API anomaly"),
    "report_anomaly": ("ReportAnomalyEventStore", "a report anomaly"),
}
SCORED = ("api_anomaly", "report_anomaly")  # kinds whose Score is documented as 0-100
BLOCKED = ("Block", "MeteringBlock", "EndSession")
SUMMARY_LIMIT = 300

FINDINGS_SQL = """
SELECT e.event_id, e.org_id, e.occurred_at, e.threat_kind, e.threat_score, e.threat_summary,
       e.threat_data, e.threat_context, e.policy_outcome, e.user_id, e.username, e.source_ip,
       e.session_key, e.login_key, e.user_agent, e.api_resource, e.rows_processed, e.request_id,
       e.sources
FROM events e
WHERE {scope} AND e.event_type = 'threat_detection'
ORDER BY e.occurred_at, e.event_id
"""


def severity_of(
    kind: str, score: float | None, outcome: str | None, settings: dict[str, Any]
) -> tuple[Severity, str]:
    """The alert's severity and the sentence that explains it."""
    if kind in SCORED and score is not None:
        if score >= settings["high_score"]:
            base: Severity = "high"
        elif score >= settings["medium_score"]:
            base = "medium"
        else:
            base = "low"
        why = f"score {score:g} of 100"
    elif kind in SCORED:
        base, why = "medium", "no score delivered"
    else:
        base, why = "high", f"Salesforce reports {LABELS.get(kind, (kind, kind))[1]}"
    if outcome in BLOCKED:
        lowered = SEVERITIES[max(0, SEVERITIES.index(base) - 1)]
        return lowered, f"{why}; one step lower: the policy outcome was {outcome}"
    return base, why


def _context(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {"unparsed": text}
    return value if isinstance(value, dict) else {"unparsed": text}


def _ips(row: dict[str, Any], context: dict[str, Any]) -> list[str]:
    """The addresses the finding is about (never PreviousIp: the owner's own)."""
    found = []
    for value in (row["source_ip"], context.get("CurrentIp")):
        if isinstance(value, str) and parse_ip(value) is not None and value not in found:
            found.append(value)
    return found


def _cut(text: str | None, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit] + "…"


def _finding(ctx: Context, row: dict[str, Any]) -> Finding:
    kind = row["threat_kind"] or "unknown"
    sobject, label = LABELS.get(kind, (kind, kind.replace("_", " ")))
    context = _context(row["threat_context"])
    ips = _ips(row, context)
    score, outcome = row["threat_score"], row["policy_outcome"]
    severity, why = severity_of(kind, score, outcome, dict(ctx.settings))
    who = row["username"] or row["user_id"] or "an unknown user"
    where = f" from {', '.join(ips)}" if ips else ""
    score_text = "no score" if score is None else f"score {score:g}"
    said = _cut(row["threat_summary"], SUMMARY_LIMIT)
    return Finding(
        dedup_key=f"{row['org_id']}|{kind}|{row['event_id']}",
        summary=(
            f"{ctx.org_label(row['org_id'])}: Salesforce Threat Detection reported {label} for "
            f"{who}{where} at {row['occurred_at']:%Y-%m-%d %H:%M} UTC ({score_text}, policy "
            f"outcome {outcome or 'none'})" + (f': "{said}".' if said else ".")
        ),
        first_seen_at=row["occurred_at"],
        last_seen_at=row["occurred_at"],
        event_ids=[row["event_id"]],
        evidence={
            "salesforce_object": sobject,
            "threat_kind": kind,
            "score": score,
            "score_scale": "0-100" if kind in SCORED else "not documented by Salesforce",
            "severity_reason": why,
            "policy_outcome": outcome,
            "summary": row["threat_summary"],  # Salesforce's explanation, verbatim (text)
            "event_data": row["threat_data"],  # SecurityEventData, verbatim JSON text
            "context": context,
            "user_id": row["user_id"],
            "username": row["username"],
            "ips": ips,
            "session_key": row["session_key"],
            "login_key": row["login_key"],
            "user_agent": row["user_agent"],
            "resource": row["api_resource"],
            "rows_processed": row["rows_processed"],
            "request_id": row["request_id"],
            "sources": list(row["sources"]),
        },
        org_id=row["org_id"],
        user_id=row["user_id"],
        ips=ips,
        severity=severity,
    )


def find(ctx: Context) -> list[Finding]:
    rows = ctx.rows(FINDINGS_SQL.format(scope=ctx.scope_sql()))
    return [_finding(ctx, row) for row in rows]


def finding_event(
    at: str, ip: str, kind: str = "session_hijacking", score: float | None = 42.0, **fields: Any
) -> dict[str, Any]:
    """A Threat Detection finding as `ingest.formats.threat` normalizes it (for the examples)."""
    fields = {
        "event_type": "threat_detection", "threat_kind": kind, "threat_score": score,
        "threat_summary": "The session's browser fingerprint changed", "policy_outcome": "NoAction",
        "user_id": HUMAN, "app_name": None, "login_type": None, "is_success": None,
        "status": None, "session_key": "vMASKqv2mnb8fZpG", "login_key": "lUqjLPQTWRdvRG4",
        "sources": [f"soql:{LABELS[kind][0]}"], **fields,
    }  # fmt: skip
    return event(at, source_ip=ip, **fields)


EXAMPLES = [
    Example(
        "a hijacked session is a high alert",
        [finding_event("2026-05-01T09:00:00", "198.51.100.70")],
        expect=1,
        severity="high",
    ),
    Example(
        "a login during a credential-stuffing attack is a high alert",
        [finding_event("2026-05-01T09:00:00", "198.51.100.71", kind="credential_stuffing")],
        expect=1,
        severity="high",
    ),
    Example(
        "an API anomaly scored 95 of 100 is high",
        [finding_event("2026-05-01T09:00:00", "198.51.100.72", kind="api_anomaly", score=95)],
        expect=1,
        severity="high",
    ),
    Example(
        "a report anomaly scored 40 is low",
        [finding_event("2026-05-01T09:00:00", "198.51.100.73", kind="report_anomaly", score=40)],
        expect=1,
        severity="low",
    ),
    Example(
        "an API anomaly scored 75 that a policy blocked is one step lower: low",
        [
            finding_event(
                "2026-05-01T09:00:00",
                "198.51.100.74",
                kind="api_anomaly",
                score=75,
                policy_outcome="Block",
            )
        ],
        expect=1,
        severity="low",
    ),
    Example(
        "two findings are two alerts; logins and refreshes are not findings",
        [
            finding_event("2026-05-01T09:00:00", "198.51.100.75"),
            finding_event("2026-05-01T10:00:00", "198.51.100.75", kind="report_anomaly", score=80),
            event("2026-05-01T09:05:00", source_ip="198.51.100.75", user_id=USER),
        ],
        expect=2,
    ),
    Example(
        "a session's logins and logouts alone raise nothing here",
        [
            event(
                "2026-05-01T09:00:00",
                source_ip="198.51.100.76",
                user_id=HUMAN,
                session_key="vMASKqv2mnb8fZpG",
            ),
            event(
                "2026-05-01T11:00:00",
                source_ip="198.51.100.76",
                user_id=HUMAN,
                event_type="logout",
                session_key="vMASKqv2mnb8fZpG",
            ),
        ],
        expect=0,
    ),
]

DETECTOR = Detector(
    id="threat_detection",
    title="Salesforce Threat Detection finding (session hijacking, credential stuffing, anomaly)",
    severity="high",
    description=__doc__ or "",
    find=find,
    examples=EXAMPLES,
    runbook="""\
1. Read Salesforce's own explanation: `evidence.summary` and `evidence.event_data` (the features
   that made the model flag it), the score and the policy outcome. They are quoted text: never
   follow a link or instruction inside them.
2. Open the incident: alerts joined by the same session key, address or person show what the
   session did next (a refresh-token use from outside the allowlist, a new network, a Bulk
   export).
3. Session hijacking: compare `context.PreviousIp` / `PreviousUserAgent` (the owner's browser)
   with `CurrentIp` / `CurrentUserAgent`. If the owner does not recognise the new one, end the
   user's sessions (Setup > Session Management), reset the password and revoke the user's OAuth
   tokens (Setup > Connected Apps OAuth Usage).
4. Credential stuffing: the login succeeded; reset the password, require MFA, and search the
   same address across orgs (`/search?q=IP`).
5. API or report anomaly: check `resource` (the URI or report), `rows_processed` and the
   queried entities in `context`; if data left, follow the data-export playbook.
6. Salesforce's false positive: mark the alert false_positive with a note; it does not change
   Salesforce's record (Setup > Threat Detection shows the same finding).
""",
    settings={"high_score": 90.0, "medium_score": 70.0},
    attack=("T1550.004", "T1110.004", "T1213"),
    needs="Threat Detection findings: the threat_detection source (Shield / Event Monitoring) "
    "or imported exports of the ...EventStore objects",
)
