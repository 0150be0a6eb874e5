"""Each detector's evidence as a person reads it: sentences and small tables, never a JSON tree.

One small function per detector id (`RENDERERS`, filled by `@renders`); a detector without one
gets `generic`, a two-column table of every field (nested values flattened to dotted names).
Every value is attacker-controlled or derived from it, so sentences go through `ui.text` and
tables through `ui.table` (the safe_text boundary); the words around them are ours.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import timefmt
from dashboard.web import safe_text, ui

Evidence = Mapping[str, Any]
RENDERERS: dict[str, Callable[[Evidence], None]] = {}

CHECK_NAMES = {
    "partner_reuse": "the partner presented a token twice",
    "idle_timeout": "the 30-day idle timeout",
    "token_cap": "the cap of 5 tokens per user and app",
    "salesforce_reason": "Salesforce's own error",
    "user_frozen_or_inactive": "the user frozen or deactivated",
    "password_reset": "a password reset",
    "revocation_logout": "a revocation (Logout log)",
    "setup_audit_trail": "a Setup Audit Trail change",
}
REUSE_MEANING = {
    "retry": "a retry: the same worker presented the token again moments later",
    "race": "a race: two of the partner's workers presented the same token at once",
    "theft": "theft: an already rotated token was presented again from elsewhere",
    "possible_reuse": "possible reuse: the token was presented twice and nothing explains it",
}
IDLE_MEANING = {
    "dormant_reuse": "A refresh token idle for {idle_days} days was used again.",
    "heartbeat_due": (
        "A refresh token has been idle {idle_days} days: it expires at the 30-day idle "
        "timeout unless it is used (heartbeat due)."
    ),
    "expired": "A refresh token idle {idle_days} days is past the idle timeout (expired).",
}


def renders(detector_id: str) -> Callable[[Callable[[Evidence], None]], Callable]:
    def register(function: Callable[[Evidence], None]) -> Callable[[Evidence], None]:
        RENDERERS[detector_id] = function
        return function

    return register


def as_mapping(evidence: Any) -> dict[str, Any]:
    """The stored evidence as a dict (JSON text is parsed; anything else is one `value`)."""
    if isinstance(evidence, str):
        try:
            evidence = json.loads(evidence)
        except ValueError:
            return {"value": evidence}
    if isinstance(evidence, Mapping):
        return dict(evidence)
    return {} if evidence is None else {"value": evidence}


def show(detector: str | None, evidence: Any) -> None:
    """The detector's renderer over its evidence; the generic table when it has none or when
    the evidence is not the shape it expects (a store from another version)."""
    found = as_mapping(evidence)
    if not found:
        st.caption("The detector kept no evidence for this alert.")
        return
    renderer = RENDERERS.get(detector or "", generic)
    try:
        renderer(found)
    except (KeyError, TypeError, ValueError, AttributeError):
        if renderer is generic:
            raise
        generic(found)


# --- small shared pieces ------------------------------------------------------------------------


def flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted name, text) for every leaf; lists of scalars joined, lists of objects numbered."""
    if isinstance(value, Mapping):
        rows: list[tuple[str, str]] = []
        for key, item in value.items():
            rows += flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return rows or [(prefix, "(none)")]
    if isinstance(value, list | tuple):
        if all(not isinstance(v, Mapping | list | tuple) for v in value):
            return [(prefix, joined(value))]
        rows = []
        for index, item in enumerate(value, 1):
            rows += flatten(item, f"{prefix}.{index}")
        return rows
    return [(prefix, text_of(value))]


def text_of(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


def joined(values: Any) -> str:
    items = [text_of(v) for v in (values or [])]
    return ", ".join(items) if items else "(none)"


def facts(rows: list[tuple[str, Any]]) -> None:
    """A two-column table: what, and its value as text."""
    ui.table(pd.DataFrame([(name, text_of(v)) for name, v in rows], columns=["fact", "value"]))


def generic(evidence: Evidence) -> None:
    ui.table(pd.DataFrame(flatten(evidence), columns=["field", "value"]), max_rows=100)


ISO_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?")


def _cell(value: Any) -> Any:
    """A point in time written into evidence JSON, shown to the second in the viewer's zone."""
    if isinstance(value, str) and ISO_TIME.fullmatch(value):
        return timefmt.shown(value, safe_text.viewer_zone())
    return value


def _records(items: Any, columns: list[str]) -> pd.DataFrame:
    rows = [item for item in (items or []) if isinstance(item, Mapping)]
    frame = pd.DataFrame(rows)
    for column in columns:
        if column not in frame:
            frame[column] = None
    frame = frame[columns].astype(object).where(frame[columns].notna(), "")
    return frame.map(_cell)


def _when(value: Any) -> str:
    return "?" if value in (None, "") else str(_cell(str(value)))


# --- one renderer per detector ------------------------------------------------------------------


@renders("chain_rejection")
def chain_rejection(evidence: Evidence) -> None:
    partner = evidence.get("partner_side") or {}
    issued, rejected = partner.get("issued") or {}, partner.get("rejected") or {}
    explained = [c for c in evidence.get("ruled_out") or [] if c.get("explains")]
    ui.text(
        f"The partner was issued a refresh token at {_when(issued.get('at'))} "
        f"({issued.get('worker') or '?'} from {issued.get('ip') or '?'}); "
        f"{int(evidence.get('gap_s') or 0) // 60} minutes later Salesforce refused it when "
        f"{rejected.get('worker') or '?'} presented it from {rejected.get('ip') or '?'} "
        f"({rejected.get('error_description') or 'no reason given'})."
    )
    if explained:
        ui.text(
            "Explained by: " + "; ".join(CHECK_NAMES.get(c["check"], c["check"]) for c in explained)
        )
    else:
        ui.text("Nothing else explains the rejection: every other cause was ruled out.")
    st.markdown("**What was ruled out, and how**")
    checks = _records(evidence.get("ruled_out"), ["check", "explains", "detail"])
    checks["cause"] = checks["check"].map(lambda c: CHECK_NAMES.get(c, c))
    checks["verdict"] = checks["explains"].map(
        lambda e: "explains it" if e is True else "ruled out"
    )
    ui.table(checks[["cause", "verdict", "detail"]], highlight=checks["explains"] == True)  # noqa: E712
    salesforce = evidence.get("salesforce_side") or {}
    foreign = _records(salesforce.get("foreign_successes"), ["at", "ip", "status"])
    st.markdown("**Salesforce's side: the token used from elsewhere while the partner held it**")
    ui.table(foreign, empty="No use from outside the allowlist between issue and rejection.")
    st.markdown("**Salesforce's refusals**")
    ui.table(_records(salesforce.get("failures"), ["at", "ip", "status"]), empty="None logged.")
    for reason in salesforce.get("app_inferred") or []:
        ui.labelled("App inferred", reason)
    links = int(evidence.get("chain_length") or 0)
    st.markdown(f"**The chain's last links** ({links:,} in all)")
    ui.table(
        _records(evidence.get("chain"), ["at", "worker", "ip", "grant", "presented", "issued"]),
        empty="No chain kept.",
    )


@renders("refresh_token_reuse")
def refresh_token_reuse(evidence: Evidence) -> None:
    first, again = evidence.get("first") or {}, evidence.get("again") or {}
    kind = evidence.get("classification") or "?"
    ui.text(f"Classified as {REUSE_MEANING.get(kind, kind)}.")
    ui.text(
        f"Token {str(evidence.get('token_fp') or '?')[:12]}… was presented by "
        f"{first.get('worker') or '?'} from {first.get('ip') or '?'} at {_when(first.get('at'))} "
        f"({first.get('outcome') or '?'}), then again by {again.get('worker') or '?'} from "
        f"{again.get('ip') or '?'} at {_when(again.get('at'))} ({again.get('outcome') or '?'}), "
        f"{int(evidence.get('gap_ms') or 0) / 1000:,.1f} s later."
    )
    facts(
        [
            ("already rotated (an older generation presented)", evidence.get("older_generation")),
            ("both presentations from the same network", evidence.get("same_network")),
            ("races of this user", evidence.get("races_of_this_user")),
            ("repeated races", evidence.get("repeated_races")),
            ("first call reached Salesforce", evidence.get("first_call_reached_salesforce")),
        ]
    )


@renders("impossible_travel")
def impossible_travel(evidence: Evidence) -> None:
    here, there = evidence.get("from") or {}, evidence.get("to") or {}

    def place(p: Mapping[str, Any]) -> str:
        return f"{p.get('city') or '?'}, {p.get('country') or '?'} ({p.get('ip') or '?'})"

    ui.text(
        f"From {place(here)} to {place(there)}: {float(evidence.get('distance_km') or 0):,.0f} km "
        f"in {float(evidence.get('hours') or 0) * 60:,.0f} minutes, "
        f"{float(evidence.get('speed_kmh') or 0):,.0f} km/h."
    )
    keys = ("ip", "city", "country", "lat", "lon", "accuracy_km")
    ends = [[side, *(p.get(k) for k in keys)] for side, p in (("from", here), ("to", there))]
    columns = ["end", "ip", "city", "country", "latitude", "longitude", "accuracy (km)"]
    ui.table(pd.DataFrame(ends, columns=columns))
    ui.text(
        f"Allowing for both fixes' accuracy the distance is at least "
        f"{float(evidence.get('effective_km') or 0):,.0f} km."
    )


@renders("off_allowlist_ip")
def off_allowlist_ip(evidence: Evidence) -> None:
    ui.text(
        f"{evidence.get('ip') or '?'} used the app's refresh tokens on {evidence.get('day') or '?'}"
        f" ({evidence.get('successes') or 0} accepted, {evidence.get('failures') or 0} refused),"
        f" outside its allowlist: {joined(evidence.get('allowlist'))}."
    )
    sources = evidence.get("sources") or {}
    facts(
        [
            ("users", joined(evidence.get("users"))),
            ("grant types", joined(evidence.get("grant_types"))),
            ("Salesforce's statuses", joined(evidence.get("statuses"))),
            ("calls in the partner's token log", evidence.get("partner_calls")),
            ("uses Salesforce logged", evidence.get("salesforce_uses")),
            ("seen in", ", ".join(f"{k}: {v}" for k, v in dict(sources).items()) or "(none)"),
            ("app inferred", evidence.get("app_inferred")),
        ]
    )


@renders("new_network")
def new_network(evidence: Evidence) -> None:
    quiet = evidence.get("returned_after_quiet_days")
    ui.text(
        f"Network {evidence.get('network') or '?'} ({joined(evidence.get('countries'))}) was not "
        f"seen in the {evidence.get('learning_days') or '?'} learning days before"
        + (f"; it came back after {quiet} quiet days." if quiet else ".")
    )
    facts([("users", joined(evidence.get("users")))])


@renders("idle_token")
def idle_token(evidence: Evidence) -> None:
    state = evidence.get("state") or "?"
    template = IDLE_MEANING.get(state, "Token state: {state}, idle {idle_days} days.")
    ui.text(template.format(state=state, idle_days=text_of(evidence.get("idle_days"))))
    facts([(k.replace("_", " "), v) for k, v in evidence.items() if k not in {"state"}])


@renders("suspicious_client")
def suspicious_client(evidence: Evidence) -> None:
    ui.text(
        f"Matched a known attacker {evidence.get('indicator') or 'indicator'}: "
        f"{evidence.get('value') or '?'} ({evidence.get('successes') or 0} successful uses)."
    )
    facts(
        [
            ("apps", joined(evidence.get("apps"))),
            ("user agents", joined(evidence.get("user_agents"))),
            ("users", joined(evidence.get("users"))),
        ]
    )


@renders("anomaly_score")
def anomaly_score(evidence: Evidence) -> None:
    ui.text(
        f"Unusual against {evidence.get('history_days') or '?'} days of this app's own history "
        f"(score {text_of(evidence.get('score'))}; lower is stranger)."
    )
    features = evidence.get("features") or {}
    ui.table(
        pd.DataFrame(
            [
                (name, text_of((v or {}).get("value")), text_of((v or {}).get("median")))
                for name, v in dict(features).items()
            ],
            columns=["feature", "this day", "usual (median)"],
        ),
        empty="No feature stood out.",
    )
    ui.labelled("Corroborated by alerts", joined(evidence.get("corroborated_by")))


@renders("cross_org")
def cross_org(evidence: Evidence) -> None:
    ui.text(
        f"The same pattern in {len(evidence.get('orgs') or [])} orgs: "
        f"{joined(evidence.get('orgs'))}; detectors {joined(evidence.get('detectors'))}."
    )
    facts(
        [
            ("alerts it links", len(evidence.get("alerts") or [])),
            ("of them on an inferred app", evidence.get("alerts_on_inferred_app")),
        ]
    )
    ui.labelled("Alerts", joined(evidence.get("alerts")))


def app_inference(inference: Any) -> None:
    """How the app was inferred when the logs did not name it, as sentences and a table."""
    found = as_mapping(inference)
    events = found.pop("events", None)
    for name, value in found.items():
        ui.labelled(name.replace("_", " "), joined(value) if isinstance(value, list) else value)
    if events:
        ui.table(_records(events, ["inferred_app", "reason", "events"]))


@renders("data_exfiltration")
def data_exfiltration(evidence: Evidence) -> None:
    span = evidence.get("span") or {}
    ui.text(
        f"Session {evidence.get('session') or '?'} read {text_of(evidence.get('rows_total'))} "
        f"rows between {_when(span.get('first'))} and {_when(span.get('last'))} "
        f"({joined(evidence.get('signals'))}); {text_of(evidence.get('breadth'))} objects touched."
    )
    ui.table(
        _records(
            evidence.get("objects"),
            ["object", "rows", "threshold", "baseline_median", "new_to_app"],
        ),
        empty="No object passed its threshold.",
    )
    ui.table(
        _records(
            evidence.get("jobs"), ["job_id", "object", "rows", "status", "first_at", "last_at"]
        ),
        empty="No Bulk job in this session.",
    )
    facts(
        [
            ("users", joined(evidence.get("users"))),
            ("from the partner's own egress", evidence.get("from_egress")),
            ("corroborated by alerts", joined(evidence.get("corroborated_by"))),
        ]
    )


@renders("threat_detection")
def threat_detection(evidence: Evidence) -> None:
    ui.text(
        f"Salesforce Threat Detection ({evidence.get('salesforce_object') or '?'}) scored this "
        f"{text_of(evidence.get('score'))} on a scale {evidence.get('score_scale') or '?'}; "
        f"policy outcome {evidence.get('policy_outcome') or 'none'}. "
        f"{evidence.get('severity_reason') or ''}"
    )
    ui.labelled("Salesforce's explanation", evidence.get("summary") or "(none)")
    facts(
        [
            ("user", evidence.get("username") or evidence.get("user_id")),
            ("addresses", joined(evidence.get("ips"))),
            ("session", evidence.get("session_key")),
            ("login", evidence.get("login_key")),
            ("user agent", evidence.get("user_agent")),
            ("resource", evidence.get("resource")),
            ("rows processed", evidence.get("rows_processed")),
        ]
    )
    if evidence.get("event_data"):
        safe_text.full_text(evidence.get("event_data"), name="SecurityEventData")
