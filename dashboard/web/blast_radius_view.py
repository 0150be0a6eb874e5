"""The incident page's blast radius: what its sessions, tokens and addresses read, per
subscriber org and object, with the first and last minute and each org's API-log coverage
(`queries.blast_radius`, the numbers the digest, the evidence pack and the CLI show)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import queries, timefmt
from dashboard.web import safe_text, ui


def render(incident_id: str) -> None:
    blast = ui.q("blast_radius", incident_id, ui.config())
    st.subheader("Blast radius")
    if not blast:
        st.caption("Nothing to measure: this incident holds no alerts.")
        return
    st.caption(
        "Rows read or exported through the API by this incident's sessions and addresses (the "
        "partner's own egress excepted), from an hour before its first alert to a day after "
        "its last. Bulk jobs count once; a query's later pages count for its object."
    )
    ui.text(queries.blast_radius_line(blast) or "Blast radius: nothing found.")
    zone = safe_text.viewer_zone()
    rows = [
        {"org": org["org_id"], "coverage": org["coverage"], "object": item["object"],
         "rows": _rows(item["rows"]), "bulk jobs": item["jobs"],
         "first minute": timefmt.shown(item["first_minute"], zone),
         "last minute": timefmt.shown(item["last_minute"], zone),
         "sessions": ", ".join(item["sessions"]), "addresses": ", ".join(item["addresses"])}
        for org in blast["orgs"] for item in org["objects"]
    ] + [
        {"org": org["org_id"], "coverage": org["coverage"], "object": "-", "rows": "-",
         "bulk jobs": 0, "first minute": "-", "last minute": "-", "sessions": "-",
         "addresses": "-"}
        for org in blast["orgs"] if not org["objects"]
    ]  # fmt: skip
    ui.table(pd.DataFrame(rows), empty="No org to report.")


def _rows(rows: int) -> str:
    # ApiTotalUsage names the objects a call touched but logs no row count: an object seen only
    # there is "none logged", which is not "nothing read".
    return f"{rows:,}" if rows else "none logged"
