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
# A file we ship: Streamlit fetches a `:material/…:` page icon from Google's font CDN, and the
# dashboard must load nothing from the internet.
ICON = str(Path(__file__).resolve().parents[1] / "data" / "favicon.png")

st.set_page_config(page_title="tokensentry", page_icon=ICON, layout="wide")

pages = [
    st.Page(PAGES / "overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page(PAGES / "queue.py", title="Queue", icon=":material/inbox:", url_path="queue"),
    st.Page(PAGES / "search.py", title="Search", icon=":material/search:", url_path="search"),
    st.Page(PAGES / "apps.py", title="Apps & allowlists", icon=":material/apps:", url_path="apps"),
    st.Page(
        PAGES / "controls.py",
        title="Controls readiness",
        icon=":material/verified_user:",
        url_path="controls",
    ),
    st.Page(PAGES / "tokens.py", title="Tokens", icon=":material/key:", url_path="tokens"),
    st.Page(PAGES / "pipeline.py", title="Pipeline", icon=":material/build:", url_path="pipeline"),
    # Reached from a row's link (…?id=); hidden from the menu because they need an id.
    st.Page(
        PAGES / "incident.py",
        title="Incident",
        icon=":material/crisis_alert:",
        url_path="incident",
        visibility="hidden",
    ),
    st.Page(
        PAGES / "alert.py",
        title="Alert",
        icon=":material/notifications:",
        url_path="alert",
        visibility="hidden",
    ),
]
ui.register_pages(pages)
page = st.navigation(pages)

ui.apply_pending_triage()
ui.show_flash()  # before any read: shown even while reads wait for the pipeline
ui.sidebar_filters()
ui.analyst_field()
page.run()
ui.footer()
