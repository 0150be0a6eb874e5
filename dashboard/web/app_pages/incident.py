"""Incident (`/incident?id=<incident_id>`): what happened, the evidence, and the triage form."""

from __future__ import annotations

import streamlit as st

from dashboard.web import blast_radius_view, detail, evidence_views, ui

EVIDENCE_ALERTS = 3  # the most severe alerts' evidence on the page; the rest one click away
LINKED_ALERTS = 10

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

alerts = ui.q("incident_alerts", incident_id)  # most severe first, then oldest

st.subheader(f"Alerts ({len(alerts)})")
# One line per alert, severity first (a phone at 390 px shows it without scrolling sideways);
# the summaries (long, and said again in the evidence below) and notes are in the full list,
# one click away. The triage columns only when some alert has a decision.
ALERT_COLUMNS = ["severity", "detector", "username", "status", "last_seen", "alert_id", "link"]
ALERT_COLUMNS += [c for c in ("analyst",) if alerts[c].notna().any()]
detail.short(
    alerts[ALERT_COLUMNS],
    "alerts",
    full=alerts[[*ALERT_COLUMNS, "summary", "triage_note"]],
)
for alert in alerts.head(LINKED_ALERTS).itertuples():
    ui.link("alert", alert.alert_id, f"{alert.severity} {alert.detector}")

st.subheader("Evidence per alert")
for index, alert in enumerate(alerts.head(EVIDENCE_ALERTS).itertuples()):
    box = st.expander(
        ui.md(f"{alert.detector} · {alert.severity} · {alert.alert_id}"),
        expanded=index == 0,
        key=f"evidence_{alert.alert_id}",
        on_change="rerun",  # the collapsed ones are drawn once opened
    )
    if box.open:
        with box:
            evidence_views.show(
                alert.detector, (ui.q("alert", alert.alert_id) or {}).get("evidence")
            )
if len(alerts) > EVIDENCE_ALERTS:
    st.caption(f"first {EVIDENCE_ALERTS:d} of {len(alerts):d} alerts; open an alert for the rest")

first = alerts.iloc[0] if not alerts.empty else None
if first is not None:
    detail.runbook(ui.q("alert", first["alert_id"]) or {}, collapsed=True)
blast_radius_view.render(incident_id)
detail.locations(
    "incident", incident_id, draw_jumps="impossible_travel" in (record["detectors"] or [])
)
detail.token_chain("incident", incident_id)  # whenever its alerts involve partner tokens
detail.related("incident", incident_id)
detail.timeline("incident", incident_id, lazy=True)
detail.audit(incident_id)
