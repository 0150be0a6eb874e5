"""Pipeline (`/pipeline`): runs per org x source and per import file, per detector: status,
rows, quarantined rows, duration, last error; sources an org does not offer; the quarantine."""

from __future__ import annotations

import streamlit as st

from dashboard.web import detail, ui
from ingest.timeparse import now_utc

RUNS = 200  # per stage, newest first
QUARANTINE = 200

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
    shown = ui.q("runs", stage, RUNS).drop(columns=["stage"])
    if stage == "ingest":
        shown = shown.drop(columns=["org_id"])
    if shown.empty:
        st.caption(ui.md(f"No {stage} run yet."))
        continue
    # The newest as a table, all of them in a grid one click away: a static table of 50 runs
    # cost the browser a second to draw.
    detail.short(
        shown.rename(
            columns={"rows_read": "read", "rows_new": "new", "rows_quarantined": "quarantined"}
        ),
        f"{stage} runs (the newest {RUNS})" if len(shown) == RUNS else f"{stage} runs",
    )

st.header("Quarantine")
st.caption("Rows that could not be loaded, by reason; `tokensentry import` lists them too.")
ui.table(ui.q("quarantine_reasons"), empty="Nothing quarantined.")
quarantined = ui.q("quarantine", QUARANTINE)
if not quarantined.empty:
    what = f"quarantined rows (the newest {QUARANTINE})" if len(quarantined) == QUARANTINE else ""
    detail.short(quarantined, what or "quarantined rows")
