"""Pipeline (`/pipeline`): runs per org x source and per import file, per detector: status,
rows, quarantined rows, duration, last error; sources an org does not offer; the quarantine."""

from __future__ import annotations

import streamlit as st

from dashboard.web import ui
from ingest.timeparse import now_utc

st.title("Pipeline")
counts = ui.q("store_counts")
columns = st.columns(len(counts))
for column, (table, rows) in zip(columns, counts.items(), strict=True):
    column.metric(ui.md(table), f"{rows:,}")

st.header("Freshness per org and source")
fresh = ui.q("pipeline_health", now_utc().replace(second=0, microsecond=0), ui.config())
ui.table(
    fresh.assign(org=fresh["org_id"].map(ui.org_label))[
        [
            "state",
            "org",
            "source",
            "last_success",
            "age_text",
            "cadence_text",
            "cadence_from",
            "last_status",
            "last_error",
        ]
    ].rename(columns={"age_text": "age", "cadence_text": "cadence"}),
    empty="No ingest or import has run yet.",
    highlight=fresh["state"].isin(["failed", "stale"]),
)

st.header("Sources not available")
ui.table(ui.q("unavailable_sources"), empty="Every configured source answered in every org.")

gaps = ui.q("retention_gaps")
st.header("Retention gaps")
ui.table(gaps, empty="None recorded.")

st.header("Detectors")
ui.table(ui.q("detector_runs"), empty="detect has not run yet.")

for stage, title in (
    ("ingest", "Ingest runs (org / source)"),
    ("import", "Imports (per file)"),
    ("detect", "Detect runs"),
):
    st.header(ui.md(title))
    # The stage is the section's; an ingest unit names its org. Short headers keep the
    # started_at column on one line at 1440 px.
    shown = ui.q("runs", stage, 200).drop(columns=["stage"])
    if stage == "ingest":
        shown = shown.drop(columns=["org_id"])
    ui.table(
        shown.rename(
            columns={"rows_read": "read", "rows_new": "new", "rows_quarantined": "quarantined"}
        ),
        empty=f"No {stage} run yet.",
        max_rows=50,
    )

st.header("Quarantine")
st.caption("Rows that could not be loaded, by reason; `tokensentry import` lists them too.")
ui.table(ui.q("quarantine_reasons"), empty="Nothing quarantined.")
ui.table(ui.q("quarantine", 200), empty="", max_rows=50)
