"""The analysts' alert list (v0; the full dashboard is its own issue).

Every number comes from `dashboard.queries`. Each rerun opens a short read-only connection and
closes it at once: DuckDB allows one writer or many readers, and a cached connection would lock
the nightly ingest out.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from dashboard import queries
from detect.geo import ATTRIBUTION as GEO_ATTRIBUTION
from ingest import db
from ingest.errors import TokensentryError

DB_PATH = Path(os.environ.get("TOKENSENTRY_DB", "data/tokensentry.duckdb"))

SEVERITIES = ["critical", "high", "medium", "low", "info"]


@st.cache_data(ttl=30, show_spinner=False)
def load_alerts(db_path: str) -> tuple[pd.DataFrame, dict[str, int]]:
    with db.connect(db_path, read_only=True) as con:
        frame = queries.alerts(con)
        counts = queries.store_counts(con)
    return frame, counts


st.set_page_config(page_title="tokensentry · alerts", page_icon="🛡️", layout="wide")
st.title("tokensentry alerts")
st.caption(f"Store: `{DB_PATH}`")

try:
    alerts, counts = load_alerts(str(DB_PATH))
except TokensentryError as exc:
    st.info(str(exc))
    st.stop()
except duckdb.IOException:
    st.warning("The pipeline is writing to the store; this page retries in a moment.")
    st.stop()

with st.sidebar:
    st.header("Filters")
    chosen_severity = st.multiselect(
        "Severity", SEVERITIES, default=SEVERITIES[:4], key="alerts_severity"
    )
    detectors = sorted(alerts["detector"].unique()) if not alerts.empty else []
    chosen_detectors = st.multiselect(
        "Detector", detectors, default=detectors, key="alerts_detector"
    )
    chosen_status = st.multiselect(
        "Status", list(queries.ALERT_STATUSES), default=["new", "acknowledged"], key="alerts_status"
    )

shown = alerts[
    alerts["severity"].isin(chosen_severity)
    & alerts["detector"].isin(chosen_detectors)
    & alerts["status"].isin(chosen_status)
]

columns = st.columns(len(SEVERITIES) + 1)
for column, severity in zip(columns, SEVERITIES, strict=False):
    column.metric(severity, int((shown["severity"] == severity).sum()))
columns[-1].metric("events in store", f"{counts['events']:,}")

if shown.empty:
    st.success("No alerts match these filters.")
else:
    table = shown.assign(ips=shown["ips"].map(", ".join))[
        ["severity", "detector", "status", "last_seen", "event_count", "ips", "summary", "alert_id"]
    ]
    table["last_seen"] = table["last_seen"].dt.strftime("%Y-%m-%d %H:%M")
    st.table(table.rename(columns={"last_seen": "last seen (UTC)", "event_count": "events"}))
    st.caption(f"{len(shown)} of {len(alerts)} alerts")

st.divider()
st.caption(
    "Triage from the command line: `tokensentry triage ALERT_ID --status acknowledged`. "
    "Severity ranks: critical > high > medium > low > info."
)
st.caption(GEO_ATTRIBUTION)  # the GeoLite2 licence asks for it wherever its data shows
