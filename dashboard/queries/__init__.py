"""Read-only SQL shared by every surface: the command line, the Streamlit app, the digest and
the notebooks. One module per subject; this package re-exports them so callers write
`queries.alerts(con, ...)` and every surface shows the same numbers.

Functions take an open connection (and filters) and return DataFrames or plain records. None
imports Streamlit; none pulls a whole table into pandas: they aggregate in DuckDB.
"""

from .alerts import (
    alert,
    alert_events,
    alert_records,
    alerts,
    related_alerts,
    set_triage,
    severity_counts,
)
from .controls import CONTROLS, VERDICTS, controls_csv, controls_readiness
from .controls_snapshot import refresh_controls_snapshot
from .egress import add_known_egress, known_egress, remove_known_egress
from .export import csv_cell, rows_csv
from .filters import Filters, day_window, default_filters, default_window, newest_event
from .incidents import incident, incident_alerts, incident_of, incident_records, incidents
from .pipeline import quarantine, recent_runs, store_counts
from .triage import ALERT_STATUSES, audit_trail, triage

__all__ = [
    "ALERT_STATUSES",
    "CONTROLS",
    "VERDICTS",
    "Filters",
    "add_known_egress",
    "alert",
    "alert_events",
    "alert_records",
    "alerts",
    "audit_trail",
    "controls_csv",
    "controls_readiness",
    "csv_cell",
    "day_window",
    "default_filters",
    "default_window",
    "incident",
    "incident_alerts",
    "incident_of",
    "incident_records",
    "incidents",
    "known_egress",
    "newest_event",
    "quarantine",
    "recent_runs",
    "refresh_controls_snapshot",
    "related_alerts",
    "remove_known_egress",
    "rows_csv",
    "set_triage",
    "severity_counts",
    "store_counts",
    "triage",
]
