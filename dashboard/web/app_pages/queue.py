"""Queue (`/queue`): incidents first (or single alerts), filtered and sorted; select one or many
and set their status with a note; every change lands in the audit trail. A page of the queue
at a time (sorted and cut in DuckDB), saying how many match in all."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from dashboard import queries
from dashboard.web import ui
from detect import registry

PAGE_ROWS = 1000  # the queue is for working, not for export: the CLI lists everything

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
    sort = third.selectbox("Sort by", list(queries.INCIDENT_ORDERS), key="queue_sort")

filters = replace(
    base,
    statuses=tuple(statuses),
    severities=tuple(severities),
    detectors=tuple(detectors),
    ip=ip,
    text=text,
)
kind = "incident" if view == "incidents" else "alert"
total = ui.q(f"{kind}_count", filters)
pages = max(1, -(-total // PAGE_ROWS))
if st.session_state.get("queue_page", 1) > pages:  # fewer match since the page was chosen
    st.session_state["queue_page"] = pages
page = 1
if pages > 1:
    page = st.number_input(
        ui.md(f"Page (of {pages:,}, {PAGE_ROWS:,} rows each)"),
        min_value=1, max_value=pages, step=1, key="queue_page",
    )  # fmt: skip
offset = (page - 1) * PAGE_ROWS
rows = ui.q(f"{kind}s", filters, limit=PAGE_ROWS, offset=offset, order=sort)
size = "alert_count" if kind == "incident" else "event_count"
if kind == "alert":
    rows = rows.rename(columns={"detector": "detectors"})
id_column = f"{kind}_id"

st.caption(
    ui.md(
        f"{total:,} {kind}(s) match"
        + (f"; showing {offset + 1:,}–{offset + len(rows):,}" if total > len(rows) else "")
        + "; select rows to triage them together."
    )
)
shown = rows.assign(
    link=f"/{kind}?id=" + rows[id_column],
    org=ui.org_labels(rows["org_id"]),
)[
    [  # link, severity and summary first and narrow enough for a phone (390 px)
        "link", "severity", "summary", "status", "org", "app", "username", "user_id", "ips",
        "first_seen", "last_seen", size, "detectors",
    ]
]  # fmt: skip
event = ui.grid(
    shown,
    key=f"queue_grid_{kind}" + (f"_page{page}" if page > 1 else ""),  # a page, its selection
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
    st.subheader("Most urgent" if page == 1 else "First on this page")
    # Also as plain text, readable without the data grid (screen readers, browser tests).
    for row in rows.head(10).itertuples():
        ui.link(kind, getattr(row, id_column), f"{row.severity} · {row.status}")
        ui.text(row.summary)
