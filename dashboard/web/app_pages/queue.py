"""Queue (`/queue`): incidents first (or single alerts), filtered and sorted; select one or many
and set their status with a note; every change lands in the audit trail."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from dashboard import queries
from dashboard.web import ui
from detect import registry

MAX_ROWS = 5000  # the queue is for working, not for export: the CLI lists everything

st.title("Queue")
base = ui.filters()

with st.expander("Filters", expanded=True):
    first, second, third, fourth = st.columns(4)
    view = (
        first.segmented_control(
            "Show", ["incidents", "alerts"], default="incidents", key="queue_view"
        )
        or "incidents"
    )
    statuses = second.multiselect(
        "Status", list(queries.ALERT_STATUSES), default=["new", "acknowledged"],
        key="queue_status",
    )  # fmt: skip
    severities = third.multiselect("Severity", list(ui.SEVERITIES), key="queue_severity")
    detectors = fourth.multiselect(
        "Detector", sorted(registry.by_id()), key="queue_detector", format_func=ui.option
    )
    first, second, third = st.columns(3)
    ip = first.text_input("IP address", key="queue_ip").strip() or None
    text = second.text_input("Text (id, summary, user, app)", key="queue_text").strip() or None
    sort = third.selectbox(
        "Sort by", ["severity", "last seen", "first seen", "size"], key="queue_sort"
    )

filters = replace(
    base,
    statuses=tuple(statuses),
    severities=tuple(severities),
    detectors=tuple(detectors),
    ip=ip,
    text=text,
)
kind = "incident" if view == "incidents" else "alert"
if kind == "incident":
    rows = ui.q("incidents", filters, limit=MAX_ROWS)
    size = "alert_count"
else:
    rows = ui.q("alerts", filters, limit=MAX_ROWS).rename(columns={"detector": "detectors"})
    size = "event_count"
id_column = f"{kind}_id"
order = {"last seen": "last_seen", "first seen": "first_seen", "size": size}.get(sort)
if order is not None and not rows.empty:
    rows = rows.sort_values(order, ascending=False, kind="stable")

st.caption(
    ui.md(
        f"{len(rows):,} {kind}(s) match"
        + (f" (the first {MAX_ROWS:,})" if len(rows) == MAX_ROWS else "")
        + "; select rows to triage them together."
    )
)
shown = rows.assign(
    link=f"/{kind}?id=" + rows[id_column],
    org=rows["org_id"].map(ui.org_label),
)[
    [  # link, severity and summary first and narrow enough for a phone (390 px)
        "link", "severity", "summary", "status", "org", "app", "username", "user_id", "ips",
        "first_seen", "last_seen", size, "detectors",
    ]
]  # fmt: skip
event = ui.grid(
    shown,
    key=f"queue_grid_{kind}",
    on_select="rerun",
    selection_mode="multi-row",
    column_config={
        "link": st.column_config.LinkColumn(kind, display_text=r"id=(.*)$", width=90),
        "severity": st.column_config.TextColumn("severity", width=64),
        "summary": st.column_config.TextColumn("summary", width="large"),
    },
)
selected = [rows.iloc[row][id_column] for row in (event.selection.rows if event else [])]

st.subheader(ui.md(f"Triage the selected {kind}s"))
if selected:
    ui.labelled("Selected", ", ".join(selected))
ui.triage_form(selected, kind=kind, key="queue_triage")

if not rows.empty:
    st.subheader("Most urgent")
    # Also as plain text, readable without the data grid (screen readers, browser tests).
    for row in rows.head(10).itertuples():
        ui.link(kind, getattr(row, id_column), f"{row.severity} · {row.status}")
        ui.text(row.summary)
