"""Read-only SQL shared by every surface: the command line, the Streamlit app, the digest and
the notebooks. One module per subject; this package re-exports them so callers write
`queries.alerts(con, ...)` and every surface shows the same numbers.

Functions take an open connection (and filters) and return DataFrames or plain records. None
imports Streamlit; none pulls a whole table into pandas: they aggregate in DuckDB.
"""

from .alerts import (
    ALERT_ORDERS,
    alert,
    alert_count,
    alert_events,
    alert_records,
    alerts,
    severity_counts,
)

# The dashboard pages' subjects (overview, apps, tokens, search, evidence, pipeline health).
from .allowlist import allowlist_entries, allowlist_fit
from .apps import EgressJudge, egress_ips
from .blast_radius import blast_radius, blast_radius_line
from .controls import CONTROLS, VERDICTS, controls_csv, controls_readiness
from .controls_snapshot import refresh_controls_snapshot
from .egress import (
    Refusal,
    Silenced,
    add_known_egress,
    known_apps,
    known_egress,
    refusals,
    remove_known_egress,
    would_silence,
)
from .evidence import evidence_events, locations, token_chain, travel_jumps, visits
from .export import csv_cell, rows_csv
from .filters import Filters, day_window, default_filters, default_window, newest_event
from .health import (
    detector_runs,
    duration_text,
    freshness,
    pipeline_health,
    quarantine_reasons,
    retention_gaps,
    runs,
    unavailable_sources,
)
from .incidents import (
    INCIDENT_ORDERS,
    incident,
    incident_alerts,
    incident_count,
    incident_of,
    incident_records,
    incidents,
)
from .overview import alerts_by_status, filter_options, open_alerts_by_day, top_open
from .owners import ip_owners
from .pipeline import quarantine, recent_runs, store_counts
from .related import related, trusted_ips
from .rollups import refresh_rollups
from .search import search_alerts, search_events, search_kind, search_needle, search_summary
from .tokens import dormant_wakes, refresh_tokens, token_states
from .triage import ALERT_STATUSES, audit_trail, set_triage, triage

__all__ = [
    "ALERT_ORDERS",
    "ALERT_STATUSES",
    "CONTROLS",
    "INCIDENT_ORDERS",
    "VERDICTS",
    "EgressJudge",
    "Filters",
    "Refusal",
    "Silenced",
    "add_known_egress",
    "alert",
    "alert_count",
    "alert_events",
    "alert_records",
    "alerts",
    "alerts_by_status",
    "allowlist_entries",
    "allowlist_fit",
    "audit_trail",
    "blast_radius",
    "blast_radius_line",
    "controls_csv",
    "controls_readiness",
    "csv_cell",
    "day_window",
    "default_filters",
    "default_window",
    "detector_runs",
    "dormant_wakes",
    "duration_text",
    "egress_ips",
    "evidence_events",
    "filter_options",
    "freshness",
    "incident",
    "incident_alerts",
    "incident_count",
    "incident_of",
    "incident_records",
    "incidents",
    "ip_owners",
    "known_apps",
    "known_egress",
    "locations",
    "newest_event",
    "open_alerts_by_day",
    "pipeline_health",
    "quarantine",
    "quarantine_reasons",
    "recent_runs",
    "refresh_controls_snapshot",
    "refresh_rollups",
    "refresh_tokens",
    "refusals",
    "related",
    "remove_known_egress",
    "retention_gaps",
    "rows_csv",
    "runs",
    "search_alerts",
    "search_events",
    "search_kind",
    "search_needle",
    "search_summary",
    "set_triage",
    "severity_counts",
    "store_counts",
    "token_chain",
    "token_states",
    "top_open",
    "travel_jumps",
    "triage",
    "trusted_ips",
    "unavailable_sources",
    "visits",
    "would_silence",
]
