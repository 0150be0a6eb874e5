"""Queue (`/queue`): incidents first, filtered and sorted; select one or many and triage them."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from dashboard import queries
from dashboard.web import ui
from detect import registry

st.title("Queue")
base = ui.filters()

with st.expander("Filters", expanded=True):
    first, second, third = st.columns(3)
    statuses = first.multiselect(
        "Status",
        list(queries.ALERT_STATUSES),
        default=["new", "acknowledged"],
        key="queue_status",
    )
    severities = second.multiselect("Severity", list(ui.SEVERITIES), key="queue_severity")
    detectors = third.multiselect("Detector", sorted(registry.by_id()), key="queue_detector")
    first, second, third = st.columns(3)
    ip = first.text_input("IP address", key="queue_ip").strip() or None
    text = second.text_input("Text (id, summary, user, app)", key="queue_text").strip() or None
    sort = third.selectbox(
        "Sort by", ["severity", "last seen", "first seen", "alerts"], key="queue_sort"
    )

filters = replace(
    base,
    statuses=tuple(statuses),
    severities=tuple(severities),
    detectors=tuple(detectors),
    ip=ip,
    text=text,
)
incidents = ui.q("incidents", filters)
order = {
    "severity": None,
    "last seen": ("last_seen", False),
    "first seen": ("first_seen", False),
    "alerts": ("alert_count", False),
}[sort]
if order is not None and not incidents.empty:
    incidents = incidents.sort_values(order[0], ascending=order[1], kind="stable")

st.caption(f"{len(incidents):,} incident(s) match; select rows to triage them together.")
shown = incidents.assign(
    link="/incident?id=" + incidents["incident_id"],
    org=incidents["org_id"].map(ui.org_label),
)[
    [
        "link",
        "severity",
        "status",
        "org",
        "app",
        "user_id",
        "ips",
        "first_seen",
        "last_seen",
        "alert_count",
        "summary",
        "detectors",
    ]
]
event = ui.grid(
    shown,
    key="queue_grid",
    on_select="rerun",
    selection_mode="multi-row",
    column_config={
        "link": st.column_config.LinkColumn("incident", display_text=r"/incident\?id=(.*)"),
    },
)
selected_rows = event.selection.rows if event is not None else []
selected = [incidents.iloc[row]["incident_id"] for row in selected_rows]

st.subheader("Triage the selected incidents")
if selected:
    st.text("Selected: " + ", ".join(selected))
ui.triage_form(selected, kind="incident", key="queue_triage")

if not incidents.empty:
    st.subheader("Most urgent")
    # Also as plain text, readable without the data grid (screen readers, browser tests).
    for row in incidents.head(10).itertuples():
        ui.link("incident", row.incident_id, f"{row.severity} · {row.status}")
        ui.text(row.summary)
