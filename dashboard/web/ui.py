"""What every page shares: cached reads, the sidebar filters kept in the URL, the analyst's name,
triage writes, and safe ways to show attacker-controlled text.

Reads: `q("incidents", filters)` calls `dashboard.queries.incidents` through `st.cache_data`
with a short TTL; each cache miss opens its own short read-only connection and closes it at
once. No connection is cached: DuckDB lets one process write or many read, so a held
connection would lock the nightly ingest out.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

from dashboard import queries
from detect.geo import ATTRIBUTION as GEO_ATTRIBUTION
from detect.owners import ATTRIBUTION as OWNER_ATTRIBUTION
from ingest import config as config_module
from ingest import db
from ingest.errors import ConfigError, TokensentryError
from ingest.timeparse import now_utc

from . import safe_text, writes

CACHE_TTL_S = 30
# What the sidebar offers (every org and app the store has seen) changes with a new org or app,
# not with each night's rows; a distinct over 10 M events is worth keeping for ten minutes.
CATALOG_QUERIES = {"filter_options"}
CATALOG_TTL_S = 600
BUSY_RETRY_S = 3.0
SEVERITIES = ("critical", "high", "medium", "low", "info")
TRIAGE_STATUSES = ("acknowledged", "resolved", "false_positive")
FILTERS_KEY = "ts_filters"
STALE_STYLE = "background-color: #fee2e2"
_PAGES: dict[str, Any] = {}  # url path -> st.Page, registered by app.py
ANALYST_KEY = "ts_analyst"
ANALYST_URL = "analyst"  # the query parameter that keeps the typed name across reloads
ANALYST_MAX = 120
BUSY_KEY = "ts_busy_retries"  # how often this session waited for the pipeline


def db_path() -> Path:
    return Path(os.environ.get("TOKENSENTRY_DB", "data/tokensentry.duckdb"))


def config_path() -> Path:
    return Path(os.environ.get("TOKENSENTRY_CONFIG", "data/tokensentry.toml"))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _config(path: str, mtime: float) -> config_module.Config:
    return config_module.load(path)


def config() -> config_module.Config:
    path = config_path()
    try:
        return _config(str(path), path.stat().st_mtime if path.exists() else 0.0)
    except ConfigError as exc:  # a typo in the TOML: say where, not a traceback
        st.error(md(f"The configuration cannot be read: {exc}", 2000))
        st.stop()


@contextlib.contextmanager
def _read_only(path: str) -> Iterator[duckdb.DuckDBPyConnection]:
    with db.connect(path, read_only=True, wait=0) as con:  # never wait: say so and rerun
        yield con


def _read(path: str, name: str, args: tuple[Any, ...], kwargs: tuple[tuple[str, Any], ...]):
    function = getattr(queries, name)
    return writes.with_retry(
        lambda: _read_only(path),
        lambda con: function(con, *args, **dict(kwargs)),
        attempts=3,
        wait_s=0.2,
    )


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=500)
def _cached(path: str, name: str, args: tuple[Any, ...], kwargs: tuple[tuple[str, Any], ...]):
    return _read(path, name, args, kwargs)


@st.cache_data(ttl=CATALOG_TTL_S, show_spinner=False, max_entries=20)
def _cached_catalog(
    path: str, name: str, args: tuple[Any, ...], kwargs: tuple[tuple[str, Any], ...]
):
    return _read(path, name, args, kwargs)


def q(name: str, *args: Any, **kwargs: Any) -> Any:
    """`dashboard.queries.<name>(con, *args, **kwargs)`, cached for a short while.

    While the pipeline holds the store the page says so and retries; a store that does not
    exist yet gets the command that creates it.
    """
    cache = _cached_catalog if name in CATALOG_QUERIES else _cached
    try:
        return cache(str(db_path()), name, args, tuple(sorted(kwargs.items())))
    except writes.StoreBusy:
        st.session_state[BUSY_KEY] = st.session_state.get(BUSY_KEY, 0) + 1
        st.warning("The pipeline is writing to the store, retrying…", icon="⏳")
        time.sleep(BUSY_RETRY_S)
        st.rerun()
    except TokensentryError as exc:
        st.info(md(str(exc), 2000))
        st.stop()


def forget_cached_reads() -> None:
    """After a write, so the page shows the decision at once rather than after the TTL."""
    _cached.clear()  # the catalog (orgs, apps) does not change with triage or known egress


def register_pages(pages: list[Any]) -> None:
    _PAGES.update({page.url_path: page for page in pages})


def link(url_path: str, target_id: str, label: str) -> None:
    """A link to /incident?id=… or /alert?id=…; the label is ours (ids are hex digests)."""
    st.page_link(
        _PAGES[url_path], label=md(f"{label} · {target_id}"), query_params={"id": target_id}
    )


def page_link(url_path: str, label: str) -> None:
    st.page_link(_PAGES[url_path], label=md(label))


# --- attacker-controlled text: every value goes through safe_text (the one text boundary) ---

text = safe_text.text
labelled = safe_text.labelled
grid = safe_text.grid
md = safe_text.md
option = safe_text.option


def table(
    frame: pd.DataFrame,
    *,
    empty: str = "Nothing here.",
    max_rows: int = 200,
    highlight: pd.Series | None = None,
) -> None:
    """A small static table of safe text cells, rows where `highlight` is true tinted red."""
    safe_text.table(frame, empty=empty, max_rows=max_rows, highlight=highlight, style=STALE_STYLE)


# --- the analyst ------------------------------------------------------------------------------


def analyst_from_headers(headers: Mapping[str, str] | None, header: str | None) -> str | None:
    """The signed-in user the SSO proxy vouches for, when a header is configured and present
    exactly once. Sent twice (a client adding its own next to the proxy's), it names no one:
    which copy is the proxy's cannot be told, so triage is refused (`header_problem`)."""
    values = header_values(headers, header)
    if len(values) != 1 or not values[0].strip():
        return None
    return values[0].strip()


def header_values(headers: Mapping[str, str] | None, header: str | None) -> list[str]:
    """Every value of `header` in the request (st.context.headers keeps repeats: get_all)."""
    if not header or not headers:
        return []
    get_all = getattr(headers, "get_all", None)
    if callable(get_all):
        return list(get_all(header))
    return [value for name, value in headers.items() if name.lower() == header.lower()]


def header_problem(headers: Mapping[str, str] | None, header: str) -> str:
    count = len(header_values(headers, header))
    if count > 1:
        return f"({header} sent {count} times: refused; the proxy must overwrite it)"
    return f"(no {header} header from the proxy)"


def analyst() -> str | None:
    """Who is triaging: the proxy's user header when configured, else the name typed once."""
    header = config().dashboard.user_header
    if header:
        return analyst_from_headers(st.context.headers, header)
    return st.session_state.get(ANALYST_KEY) or None


def analyst_field() -> None:
    """In the sidebar: the proxy's user, or a field the analyst fills once.

    The typed name is kept in the page's address (`?analyst=`) as well as the session, so a
    reload of the tab (a new Streamlit session) still knows who is triaging; nothing is stored
    on the server or in a cookie. The field shows the name it took from the address, so a link
    someone shared with their name in it is seen before anything is recorded under it."""
    header = config().dashboard.user_header
    if header:
        who = analyst_from_headers(st.context.headers, header)
        st.sidebar.text(
            safe_text.plain(f"Analyst: {who or header_problem(st.context.headers, header)}")
        )
        return
    if ANALYST_KEY not in st.session_state:
        st.session_state[ANALYST_KEY] = st.query_params.get(ANALYST_URL, "")[:ANALYST_MAX]
    st.sidebar.text_input(
        "Your name (for the audit trail)",
        key=ANALYST_KEY,
        max_chars=ANALYST_MAX,
        help="Kept in this tab's address, so a reload keeps it. A link you share carries it: "
        "whoever opens it sees your name here and should put theirs.",
    )
    name = (st.session_state.get(ANALYST_KEY) or "").strip()
    if name:
        st.query_params[ANALYST_URL] = name
    else:
        st.query_params.pop(ANALYST_URL, None)


def org_label(org_id: str | None) -> str:
    """ "alias (org id)" when the configuration names the org, else the id."""
    if not org_id:
        return ""
    alias = config().org_alias(org_id)
    return f"{alias} ({org_id})" if alias else org_id


def org_labels(org_ids: pd.Series) -> pd.Series:
    """`org_label` of every row, worked out once per distinct org (a queue page has 1,000)."""
    labels = {org: org_label(org) for org in org_ids.dropna().unique()}
    return org_ids.map(lambda org: labels.get(org, "")).astype(object)


# --- filters kept in the URL ------------------------------------------------------------------


def _url_list(name: str) -> list[str]:
    return [value for value in st.query_params.get_all(name) if value]


def _url_date(name: str) -> date | None:
    try:
        return date.fromisoformat(st.query_params.get(name, ""))
    except ValueError:
        return None


def sidebar_filters() -> queries.Filters:
    """Org, app and time window in the sidebar, the same on every page, mirrored in the URL so
    a link reopens the same view. The default window ends at the newest event in the store."""
    options = q("filter_options")
    default_start, default_end = q("default_window")
    default_range = (default_start.date(), default_end.date())
    if "ts_orgs" not in st.session_state:
        st.session_state["ts_orgs"] = [o for o in _url_list("org") if o in options["orgs"]]
    if "ts_apps" not in st.session_state:
        st.session_state["ts_apps"] = [a for a in _url_list("app") if a in options["apps"]]
    if "ts_window" not in st.session_state:
        start, end = _url_date("from"), _url_date("to")
        st.session_state["ts_window"] = (start, end) if start and end else default_range
    with st.sidebar:
        st.header("Filters")
        orgs = st.multiselect(
            "Org",
            options["orgs"],
            key="ts_orgs",
            format_func=lambda org: option(org_label(org)),
        )
        apps = st.multiselect("App", options["apps"], key="ts_apps", format_func=option)
        window = st.date_input("Window (UTC days)", key="ts_window")
        if st.button("Reset to the last 30 days of data", key="ts_reset"):
            st.session_state.pop("ts_window", None)
            for name in ("from", "to"):
                st.query_params.pop(name, None)
            st.rerun()
    start_day, end_day = (window[0], window[-1]) if window else default_range
    st.query_params["org"] = orgs
    st.query_params["app"] = apps
    if (start_day, end_day) != default_range:
        st.query_params["from"], st.query_params["to"] = start_day.isoformat(), end_day.isoformat()
    else:
        st.query_params.pop("from", None)
        st.query_params.pop("to", None)
    filters = queries.Filters(
        org_ids=tuple(orgs),
        apps=tuple(apps),
        start=datetime.combine(start_day, datetime.min.time()),
        end=datetime.combine(end_day, datetime.min.time()) + timedelta(days=1, microseconds=-1),
    )
    st.session_state[FILTERS_KEY] = filters
    return filters


def filters() -> queries.Filters:
    return st.session_state.get(FILTERS_KEY) or queries.Filters()


# --- writes ------------------------------------------------------------------------------------


def triage_form(target_ids: list[str], *, kind: str, key: str) -> None:
    """Status + note + (analyst) → one triage for every id; the audit trail records it.

    The decision is recorded in the submit button's callback, which Streamlit runs before the
    page script: a page whose reads then wait for the pipeline (and rerun) cannot drop it."""
    with st.form(key=key, clear_on_submit=False):
        st.selectbox("Set status", TRIAGE_STATUSES, key=f"{key}_status")
        st.text_area("Note", key=f"{key}_note", placeholder="Why (kept in the audit trail)")
        st.form_submit_button(
            md(f"Apply to {len(target_ids)} {kind}{'s' if len(target_ids) != 1 else ''}"),
            disabled=not target_ids,
            on_click=_submit_triage,
            args=(list(target_ids), kind, key),
        )


def _submit_triage(target_ids: list[str], kind: str, key: str) -> None:
    status = st.session_state.get(f"{key}_status") or TRIAGE_STATUSES[0]
    note = st.session_state.get(f"{key}_note") or None
    who = analyst()
    if not who:
        header = config().dashboard.user_header
        flash(
            "error",
            f"Not recorded: no analyst {header_problem(st.context.headers, header)}."
            if header
            else "Fill in your name in the sidebar first: every decision names its analyst.",
        )
        return
    try:
        outcome = writes.triage(
            db_path(), target_ids, status, note=note, analyst=who, now=now_utc(), kind=kind,
            on_landed=forget_cached_reads,
        )  # fmt: skip
    except TokensentryError as exc:
        flash("error", str(exc))
        return
    forget_cached_reads()
    if outcome == "queued":
        flash(
            "warning",
            f"Queued: the pipeline is writing to the store. Your decision ({status}) is saved "
            "on disk and will be recorded, with your name and this time, as soon as it finishes.",
        )
    elif outcome == "unchanged":
        flash("warning", f"Already {status}: nothing changed, so nothing was recorded.")
    elif outcome == "note":
        flash("success", f"Already {status}: the status stays; your note was recorded.")
    else:
        flash("success", f"Set to {status}.")


FLASH_KEY = "ts_flash"


def flash(level: str, message: str) -> None:
    """A message for the next run (a write reruns the page to show its own effect)."""
    st.session_state[FLASH_KEY] = (level, message)


def show_flash() -> None:
    """Show the message of the last write. It stays until a run of the page completes
    (`footer`): a run cut short by a rerun (the store busy) shows it again."""
    level, message = st.session_state.get(FLASH_KEY, (None, None))
    if level == "success":
        st.success(md(message, 2000))
    elif level == "warning":
        st.warning(md(message, 2000))
    elif level == "error":
        st.error(md(message, 2000))


def apply_pending_triage() -> None:
    """Triage queued while the pipeline held the store: apply it now if the lock is free."""
    if writes.pending(db_path()):
        with contextlib.suppress(writes.StoreBusy):
            if writes.flush(db_path()):
                forget_cached_reads()
        if writes.pending(db_path()):
            writes.start_flusher(db_path(), on_landed=forget_cached_reads)
            st.info("Decisions made while the pipeline was writing are waiting to be recorded.")


def footer() -> None:
    st.session_state.pop(FLASH_KEY, None)  # the page ran to its end: the message was seen
    st.divider()
    st.caption(GEO_ATTRIBUTION)  # the GeoLite2 licence asks for it wherever its data shows
    st.caption(OWNER_ATTRIBUTION)  # DB-IP's CC BY 4.0 too, with the owner data's dates
