"""Overview (`/`): open alerts by severity and detector over time, open vs triaged, the busiest
apps and orgs, and how fresh each org's data is."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard.web import ui
from ingest.timeparse import now_utc

SEVERITY_COLOURS = alt.Scale(
    domain=list(ui.SEVERITIES), range=["#7f1d1d", "#dc2626", "#f59e0b", "#3b82f6", "#9ca3af"]
)

st.title("Overview")
filters = ui.filters()

by_status = ui.q("alerts_by_status", filters)
by_day = ui.q("open_alerts_by_day", filters)
columns = st.columns(len(ui.SEVERITIES) + 2)
for column, severity in zip(columns, ui.SEVERITIES, strict=False):
    column.metric(
        ui.md(f"open {severity}"), int(by_day.loc[by_day.severity == severity, "alerts"].sum())
    )
open_count = int(by_status.loc[by_status.open, "alerts"].sum())
columns[-2].metric("open alerts", int(open_count))
columns[-1].metric("triaged", int(by_status.loc[~by_status.open, "alerts"].sum()))

left, right = st.columns(2)
with left:
    st.subheader("Open alerts by severity")
    if by_day.empty:
        st.caption("No open alerts in this window.")
    else:
        st.altair_chart(
            alt.Chart(ui.safe_text.chart_frame(by_day))
            .mark_bar()
            .encode(
                x=alt.X("utcyearmonthdate(day):T", title="last seen (UTC day)"),
                y=alt.Y("sum(alerts):Q", title="open alerts"),
                color=alt.Color("severity:N", scale=SEVERITY_COLOURS),
                tooltip=["utcyearmonthdate(day):T", "severity:N", "sum(alerts):Q"],
            ),
            width="stretch",
        )
with right:
    st.subheader("Open alerts by detector")
    if not by_day.empty:
        st.altair_chart(
            alt.Chart(ui.safe_text.chart_frame(by_day))
            .mark_bar()
            .encode(
                x=alt.X("utcyearmonthdate(day):T", title="last seen (UTC day)"),
                y=alt.Y("sum(alerts):Q", title="open alerts"),
                color=alt.Color("detector:N"),
                tooltip=["utcyearmonthdate(day):T", "detector:N", "sum(alerts):Q"],
            ),
            width="stretch",
        )

left, middle, right = st.columns(3)
with left:
    st.subheader("Open vs triaged")
    st.altair_chart(
        alt.Chart(ui.safe_text.chart_frame(by_status))
        .mark_bar()
        .encode(
            x=alt.X("alerts:Q", title="alerts"),
            y=alt.Y("status:N", sort=None, title=None),
            color=alt.Color("open:N", title="open"),
            tooltip=["status:N", "alerts:Q"],
        ),
        width="stretch",
    )
for column, by, title in ((middle, "app", "Top apps"), (right, "org", "Top orgs")):
    with column:
        st.subheader(ui.md(f"{title} by open alerts"))
        top = ui.q("top_open", filters, by)
        if top.empty:
            st.caption("No open alerts.")
            continue
        if by == "org":
            top = top.assign(org=top["org"].map(ui.org_label))
        st.altair_chart(
            alt.Chart(ui.safe_text.chart_frame(top))
            .mark_bar()
            .encode(
                x=alt.X("open_alerts:Q", title="open alerts"),
                y=alt.Y(f"{by}:N", sort="-x", title=None),
                color=alt.value("#dc2626"),
                tooltip=[f"{by}:N", "open_alerts:Q", "high_or_critical:Q"],
            ),
            width="stretch",
        )

st.subheader("Data freshness")
fresh = ui.q("pipeline_health", now_utc().replace(second=0, microsecond=0), ui.config())
stale = fresh[fresh["state"].isin(["failed", "stale"])]
if stale.empty:
    st.success("Every org and source delivered within its usual cadence, and none failed.")
else:
    st.error(f"{len(stale):d} org/source pair(s) failed or overdue for their usual cadence.")
ui.table(
    fresh.assign(org=fresh["org_id"].map(ui.org_label))[
        ["state", "org", "source", "last_success", "age_text", "cadence_text", "last_status"]
    ].rename(columns={"age_text": "age", "cadence_text": "cadence"}),
    empty="No ingest or import has run yet.",
    highlight=fresh["state"].isin(["failed", "stale"]),
)
gaps = ui.q("retention_gaps")
if not gaps.empty:
    st.subheader("Retention gaps")
    st.caption("History Salesforce no longer keeps and tokensentry never fetched.")
    ui.table(gaps)
