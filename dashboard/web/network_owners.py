"""Who owns the addresses shown in evidence (alert and incident pages): a small table of AS,
provider, region and Tor per IP, from `queries.ip_owners`. Layout only."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from dashboard.web import ui

SHOWN = ["ip", "owner"]  # the label: AS, provider, where its block sits, Tor


def section(ips: Sequence[str]) -> None:
    """The owners of `ips` under the facts of an alert or incident."""
    if not ips:
        return
    st.caption("Network owners (AS, provider and where its block sits, Tor)")
    ui.table(ui.q("ip_owners", tuple(sorted(ips)))[SHOWN], empty="No addresses.")
