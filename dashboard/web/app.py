"""tokensentry's analyst dashboard: the entry script `streamlit run` executes on every rerun.

`st.navigation` over one module per page in `app_pages/` (not `pages/`, which would switch on
Streamlit's legacy discovery), each at the stable URL path of CONTRACT §7 that digests and
tickets link to. The sidebar filters (org, app, window) are built here, once for every page,
and kept in the URL. Pages only lay out widgets; every number comes from `dashboard.queries`.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard.web import ui

PAGES = Path(__file__).resolve().parent / "app_pages"

st.set_page_config(page_title="tokensentry", page_icon="🛡️", layout="wide")

pages = [
    st.Page(PAGES / "overview.py", title="Overview", icon="📊", default=True),
    st.Page(PAGES / "queue.py", title="Queue", icon="📥", url_path="queue"),
    st.Page(PAGES / "search.py", title="Search", icon="🔎", url_path="search"),
    st.Page(PAGES / "apps.py", title="Apps & allowlists", icon="🧩", url_path="apps"),
    st.Page(PAGES / "controls.py", title="Controls readiness", icon="✅", url_path="controls"),
    st.Page(PAGES / "tokens.py", title="Tokens", icon="🔑", url_path="tokens"),
    st.Page(PAGES / "pipeline.py", title="Pipeline", icon="🛠️", url_path="pipeline"),
    # Reached from a row's link (…?id=); hidden from the menu because they need an id.
    st.Page(
        PAGES / "incident.py", title="Incident", icon="🚨", url_path="incident", visibility="hidden"
    ),
    st.Page(PAGES / "alert.py", title="Alert", icon="🔔", url_path="alert", visibility="hidden"),
]
ui.register_pages(pages)
page = st.navigation(pages)

ui.apply_pending_triage()
ui.sidebar_filters()
ui.analyst_field()
ui.show_flash()
page.run()
ui.footer()
