"""Read-only SQL shared by every surface: the command line, the Streamlit app, the digest and
the notebooks. One module per subject; this package re-exports them so callers write
`queries.alerts(con, ...)` and every surface shows the same numbers.

Functions take an open connection (and filters) and return DataFrames or plain records. None
imports Streamlit; none pulls a whole table into pandas: they aggregate in DuckDB.
"""

from .alerts import ALERT_STATUSES, alert_events, alert_records, alerts, set_triage, severity_counts
from .pipeline import quarantine, recent_runs, store_counts

__all__ = [
    "ALERT_STATUSES",
    "alert_events",
    "alert_records",
    "alerts",
    "quarantine",
    "recent_runs",
    "set_triage",
    "severity_counts",
    "store_counts",
]
