"""Search (`/search?q=`): an IP or network, a user (id, username or name), an org (id, alias or
name) or an app across every org, with its alerts and events."""

from __future__ import annotations

import streamlit as st

from dashboard.web import ui

st.title("Search")
if "search_q" not in st.session_state:
    st.session_state["search_q"] = st.query_params.get("q", "")
needle = st.text_input(
    "IP address or network (CIDR), user (id, username or name), org (id, alias or name) or app, "
    "across every org",
    key="search_q",
).strip()
if needle:
    st.query_params["q"] = needle
else:
    st.query_params.pop("q", None)
    st.caption("Searches the whole store, not only the sidebar's window.")
    st.stop()

orgs = tuple((alias, org.org_id) for alias, org in ui.config().orgs.items() if org.org_id)
read_as = ui.q("search_needle", needle, orgs=orgs)
ui.labelled("Searching for", f"{needle} ({read_as['describe']})")

per_org = ui.q("search_summary", needle, orgs=orgs)
alerts = ui.q("search_alerts", needle, orgs=orgs)
st.header(f"Alerts ({len(alerts):d})")
ui.table(
    alerts.assign(org=alerts["org_id"].map(ui.org_label))[
        # Summary second, so a phone (390 px) shows it without scrolling sideways; the app and
        # user are on the alert's page (linked below), here they only took the summary's width.
        [
            "severity",
            "summary",
            "username",
            "matched",
            "status",
            "detector",
            "org",
            "ips",
            "last_seen",
            "alert_id",
        ]
    ]
    if not alerts.empty
    else alerts,
    empty="No alert matches.",
    max_rows=100,
)
for alert in alerts.head(10).itertuples():
    ui.link("alert", alert.alert_id, f"{alert.severity} {alert.detector}")

st.header("Events per org")
ui.table(per_org.assign(org=per_org["org_id"].map(ui.org_label)), empty="No event matches.")
if not per_org.empty:
    st.header("Newest events")
    ui.grid(ui.q("search_events", needle, orgs=orgs))
