"""Incident (`/incident?id=<incident_id>`): what happened, the evidence, and the triage form."""

from __future__ import annotations

import streamlit as st

from dashboard.web import blast_radius_view, detail, safe_text, ui

EVIDENCE_ALERTS = 10

incident_id = st.query_params.get("id", "").strip()
record = ui.q("incident", incident_id) if incident_id else None
if record is None:
    st.title("Incident")
    st.info("No incident with this id. Open one from the queue.")
    ui.page_link("queue", "Go to the queue")
    st.stop()

form_column = detail.header(record, "incident")
with form_column:
    st.subheader("Triage")
    st.caption(
        "Applies to the alerts it holds now; an alert that joins later starts as new and "
        "reopens it."
    )
    ui.triage_form([incident_id], kind="incident", key="incident_triage")
if record.get("reopened"):
    st.warning("Reopened: new alerts joined after part of it was resolved.")
if record.get("linked_incidents"):
    st.text("Cross-org: links the incidents below.")
    for linked in record["linked_incidents"]:
        ui.link("incident", linked, "linked incident")

alerts = ui.q("incident_alerts", incident_id)

st.subheader(f"Alerts ({len(alerts)})")
ui.table(
    alerts[
        [
            "alert_id",
            "detector",
            "severity",
            "status",
            "username",
            "link",
            "last_seen",
            "summary",
            "triage_note",
            "analyst",
        ]
    ]
)
for alert in alerts.itertuples():
    ui.link("alert", alert.alert_id, f"{alert.severity} {alert.detector}")

st.subheader("Evidence per alert")
for alert in alerts.head(EVIDENCE_ALERTS).itertuples():
    full = ui.q("alert", alert.alert_id) or {}
    with st.expander(ui.md(f"{alert.detector} · {alert.severity} · {alert.alert_id}")):
        safe_text.json(full.get("evidence"), expanded=2)  # a JSON viewer: values stay text
if len(alerts) > EVIDENCE_ALERTS:
    st.caption(f"first {EVIDENCE_ALERTS:d} of {len(alerts):d} alerts; open an alert for the rest")

first = alerts.iloc[0] if not alerts.empty else None
if first is not None:
    detail.runbook(ui.q("alert", first["alert_id"]) or {})
blast_radius_view.render(incident_id)
detail.timeline("incident", incident_id)
detail.locations(
    "incident", incident_id, draw_jumps="impossible_travel" in (record["detectors"] or [])
)
if "refresh_token_reuse" in (record["detectors"] or []):
    detail.token_chain("incident", incident_id)
if first is not None:
    detail.related(first["alert_id"], exclude=set(alerts["alert_id"]))
detail.audit(incident_id)
