"""Alert (`/alert?id=<alert_id>`): one detector finding, its evidence and its own triage."""

from __future__ import annotations

import streamlit as st

from dashboard.web import detail, ui

alert_id = st.query_params.get("id", "").strip()
record = ui.q("alert", alert_id) if alert_id else None
if record is None:
    st.title("Alert")
    st.info("No alert with this id. Open one from the queue or an incident.")
    st.stop()

form_column = detail.header(record, "alert")
with form_column:
    st.subheader("Triage this alert only")
    ui.triage_form([alert_id], kind="alert", key="alert_triage")
ui.text(record["title"])
if record.get("incident_id"):
    ui.link("incident", record["incident_id"], "part of incident")
if record.get("triage_note"):
    ui.labelled("Note", record["triage_note"])
    ui.labelled("By", record["analyst"])

detail.runbook(record)
detail.evidence(record)
detail.timeline("alert", alert_id)
detail.locations("alert", alert_id, draw_jumps=record["detector"] == "impossible_travel")
detail.token_chain("alert", alert_id)  # shown whenever the alert involves partner tokens
detail.related("alert", alert_id)
detail.audit(alert_id)
