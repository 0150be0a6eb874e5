"""Controls readiness (`/controls`): per app and org, the five controls the partner must show,
each `pass`, `fail`, `no evidence` or `not applicable`, with the rows that prove it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.web import ui

st.title("Controls readiness")
filters = ui.filters()
window = (filters.start, filters.end)
readiness = ui.q("controls_readiness", ui.config(), window)
ui.labelled("Window (UTC)", f"{filters.start:%Y-%m-%d} to {filters.end:%Y-%m-%d}")
if readiness.empty:
    st.info("No configured app used OAuth in this window (configure apps in the TOML file).")
    st.stop()
if filters.apps:
    readiness = readiness[readiness["app"].str.lower().isin([a.lower() for a in filters.apps])]
if filters.org_ids:
    readiness = readiness[readiness["org_id"].isna() | readiness["org_id"].isin(filters.org_ids)]

st.download_button(
    "Download CSV for the attestation",
    queries.controls_csv(readiness),
    file_name="tokensentry-controls-readiness.csv",
    mime="text/csv",
)

rollup = readiness[readiness["scope"] == "app"]
st.header("Per app (all orgs)")
if rollup.empty:
    st.caption("No roll-up.")
else:
    verdicts = rollup.pivot_table(
        index="app", columns="control_name", values="verdict", aggfunc="first"
    )
    order = [name for name in queries.CONTROLS.values() if name in verdicts.columns]
    ui.table(verdicts[order].reset_index())

st.header("Per app and org")
per_org = readiness[readiness["scope"] == "org"]
ui.table(
    per_org.assign(org=per_org["org_id"].map(ui.org_label))[
        # the verdict and its reason first: on a phone (390 px) they need no sideways scroll
        ["control_name", "verdict", "reason", "org", "app", "counter_examples", "positive_evidence"]
    ]
)

st.header("The rows that prove each verdict")
for row in per_org.itertuples():
    title = f"{row.app} · {ui.org_label(row.org_id)} · {row.control_name}: {row.verdict}"
    with st.expander(ui.md(title)):
        ui.text(row.reason)
        if row.evidence:
            ui.grid(pd.DataFrame(row.evidence))
        else:
            st.caption("No rows.")
