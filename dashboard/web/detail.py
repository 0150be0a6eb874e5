"""The sections an incident page and an alert page share: header, evidence, timeline, map,
token chain, related alerts and audit trail. Layout only; every value comes from
`dashboard.queries` through `ui.q`, and every attacker-controlled string is shown as text.
Each detector's evidence is drawn by `evidence_views`, the map by `travel_map`. Long lists
show their first rows and keep the rest in a collapsed grid, so a page stays short."""

from __future__ import annotations

import re
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import queries, timefmt
from dashboard.web import evidence_views, network_owners, safe_text, travel_map, ui
from ingest.timeparse import now_utc

CHART_COLUMNS = ("occurred_at", "event_type", "grant_type", "outcome", "where")
SHORT_LIST = 10  # rows shown in full before the rest go to a collapsed grid
MAX_JUMPS = 50  # drawn on the map and listed; a month of commuting is not a map
CHAIN_CONTEXT = 3  # calls shown before and after each of the target's own token calls


def header(record: dict[str, Any], kind: str) -> Any:
    """Title, summary, the key figures, who/what/where; returns the column for the triage form."""
    st.title(ui.md(f"{kind.capitalize()} {record[f'{kind}_id']}"))
    ui.text(record["summary"])
    columns = st.columns(4)
    columns[0].metric("severity", safe_text.plain(record["severity"]))
    columns[1].metric("status", safe_text.plain(record["status"]))
    columns[2].metric(
        "alerts" if kind == "incident" else "events",
        int(record["alert_count"] if kind == "incident" else record["event_count"]),
    )
    columns[3].metric(
        "detectors" if kind == "incident" else "detector", safe_text.plain(_detectors(record))
    )
    facts, form = st.columns([3, 2], gap="large")
    with facts:
        ui.labelled("Org", ui.org_label(record["org_id"]) or "several (cross-org)")
        ui.labelled("App", record["app"])
        ui.labelled("User", user_text(record))
        ui.labelled("IPs", ", ".join(record["ips"]))
        network_owners.section(record["ips"])
        ui.labelled("First seen", timefmt.shown(record["first_seen"], safe_text.viewer_zone()))
        ui.labelled("Last seen", timefmt.shown(record["last_seen"], safe_text.viewer_zone()))
        ui.labelled("Detectors", _detectors(record))
    return form


def user_text(record: dict[str, Any]) -> str | None:
    """ "jane@acme.com (Jane Doe, 0055g…)": the username and name when known, and the id."""
    username, name, user_id = (
        record.get(k) if isinstance(record.get(k), str) else None
        for k in ("username", "user_full_name", "user_id")
    )
    details = ", ".join(v for v in (name, user_id) if v and v != username)
    if username:
        return f"{username} ({details})" if details else username
    return user_id


def _detectors(record: dict[str, Any]) -> str:
    detectors = record.get("detectors") or [record.get("detector")]
    return ", ".join(d for d in detectors if d)


def runbook(record: dict[str, Any], *, collapsed: bool = False) -> None:
    if record.get("runbook"):
        # Our own text from the detector catalogue (checked against it), never data.
        if collapsed:
            with st.expander("Runbook"):
                st.markdown(safe_text.product_markdown(record["runbook"]))
            return
        st.subheader("Runbook")
        st.markdown(safe_text.product_markdown(record["runbook"]))


def evidence(record: dict[str, Any]) -> None:
    st.subheader("Evidence")
    evidence_views.show(record.get("detector"), record["evidence"])
    with st.expander("The evidence as stored (JSON)"):
        safe_text.json(record["evidence"], expanded=1)  # a JSON viewer: values stay text
    inference = record.get("app_inference")
    st.subheader("App")
    if inference:
        st.text("The logs did not name the app; it was inferred:")
        evidence_views.app_inference(inference)
    else:
        ui.labelled("Named in the logs", record.get("app") or "(none)")


def timeline(kind: str, target_id: str, *, lazy: bool = False) -> None:
    """The events: a chart of when and from where, and every event in a grid (user agents
    included). `lazy`: one click away, drawn only once opened (an incident's first screen is
    for triage; the chart and the grid are the costliest things a browser draws on it)."""
    events = ui.q("evidence_events", kind, target_id)
    st.subheader(f"Events ({len(events):,})")
    if events.empty:
        st.caption(ui.md("No events recorded for this " + kind))
        return
    if not lazy:
        _events(events)
        return
    zone = safe_text.viewer_zone()
    first, last = (timefmt.shown(events["occurred_at"].agg(f), zone) for f in ("min", "max"))
    failed = int(events["is_success"].eq(False).sum())  # unknown outcomes are not failures
    ui.text(
        f"From {events['source_ip'].nunique():,} address(es), {failed:,} failed; "
        f"the first at {first}, the last at {last}."
    )
    box = lazy_expander("The timeline and every event (user agent, status, place)", "events")
    if box.open:
        with box:
            _events(events)


def _events(events: pd.DataFrame) -> None:
    chart = events.assign(
        outcome=events["is_success"].map({True: "success", False: "failure"}).fillna("n/a"),
        where=events["source_ip"].fillna("(no IP)"),
    )
    st.altair_chart(
        alt.Chart(safe_text.chart_frame(chart[[*CHART_COLUMNS]]))
        .mark_circle(size=90)
        .encode(
            x=alt.X("utcyearmonthdatehoursminutes(occurred_at):T", title="when (UTC)"),
            y=alt.Y("where:N", title="source IP"),
            color=alt.Color("outcome:N"),
            shape=alt.Shape("event_type:N"),
            tooltip=["occurred_at:T", "event_type:N", "grant_type:N", "outcome:N", "where:N"],
        ),
        width="stretch",
    )
    ui.grid(
        events[
            [
                "occurred_at",
                "event_type",
                "grant_type",
                "is_success",
                "status",
                "user_id",
                "username",
                "app",
                "source_ip",
                "country_iso",
                "city",
                "user_agent",
            ]
        ]
    )


def locations(kind: str, target_id: str, *, draw_jumps: bool) -> None:
    places = ui.q("locations", kind, target_id)
    st.subheader("Where from")
    if places.empty:
        st.caption("No addresses in these events.")
        return
    jumps = (
        queries.travel_jumps(ui.q("visits", kind, target_id)).head(MAX_JUMPS)
        if draw_jumps
        else pd.DataFrame()
    )
    if places[["latitude", "longitude"]].notna().all(axis=1).any():
        travel_map.show(places, jumps)
    if not jumps.empty:
        st.text("Jumps (in order):")
        short(
            jumps[["from_ip", "from_place", "left_at", "to_ip", "to_place", "arrived_at",
                   "distance_km", "minutes", "speed_kmh"]].round(
                {"distance_km": 0, "minutes": 0, "speed_kmh": 0}),
            "jumps",
        )  # fmt: skip
    short(places[["ip", "country", "city", "first_seen", "last_seen", "events"]], "addresses")


def short(
    frame: pd.DataFrame,
    what: str,
    *,
    highlight: pd.Series | None = None,
    full: pd.DataFrame | None = None,
) -> None:
    """The first SHORT_LIST rows as a table; the whole list (`full`: with more columns) in a
    collapsed grid below when there is more to see."""
    marked = None if highlight is None else highlight.head(SHORT_LIST)
    ui.table(frame.head(SHORT_LIST), highlight=marked)
    if len(frame) > SHORT_LIST or full is not None:
        box = lazy_expander(f"All {len(frame):,} {what}", "all_" + re.sub(r"\W+", "_", what))
        if box.open:
            with box:
                ui.grid(frame if full is None else full, height=min(360, 40 + 35 * len(frame)))


def lazy_expander(label: str, key: str) -> Any:
    """A collapsed expander whose body the page writes only while it is open (`.open`):
    opening it reruns the page, so a closed one costs the browser nothing."""
    return st.expander(ui.md(label), key=key, on_change="rerun")


def _around_own(chain: pd.DataFrame) -> pd.DataFrame:
    """The target's own token calls with CHAIN_CONTEXT calls either side (the story's core)."""
    own = [i for i, mine in enumerate(chain["in_alert"]) if mine]
    keep = sorted({j for i in own for j in range(i - CHAIN_CONTEXT, i + CHAIN_CONTEXT + 1)})
    return chain.iloc[[j for j in keep if 0 <= j < len(chain)]]


def token_chain(kind: str, target_id: str) -> None:
    """The refresh-token chain around the target; nothing when it involves no partner token."""
    chain = ui.q("token_chain", kind, target_id)
    if chain.empty:
        return
    st.subheader("Token chain")
    st.caption(
        ui.md(
            "Which worker presented which refresh-token fingerprint, when, from where, what "
            "Salesforce did with it, and the token it returned. Tinted: this "
            f"{kind}'s own events; around them, the partner's calls for the same user.",
            1000,
        )
    )
    shown = chain.assign(
        presented=chain["presented"].str.slice(0, 12), returned=chain["returned"].str.slice(0, 12)
    )
    core = _around_own(shown).head(40)
    columns = ["at", "worker", "presented", "returned", "ip", "outcome", "detail", "source"]
    ui.table(core[columns], highlight=core["in_alert"].astype(bool))
    if len(chain) > len(core):
        box = lazy_expander(f"The whole chain around it ({len(chain):,} calls)", "whole_chain")
        if box.open:
            with box:
                ui.grid(chain[[*columns, "in_alert"]], height=360)


def related(kind: str, target_id: str) -> None:
    """Other alerts tied by an address that is not the partner's own, a token of the chain,
    or the same user; first rows in full, the rest collapsed."""
    st.subheader("Related alerts (shared suspect IP, token chain or user)")
    rows = ui.q("related", kind, target_id, ui.config(), now_utc().replace(second=0, microsecond=0))
    if rows.empty:
        st.caption("None: no other alert shares a suspect address, a token or the user.")
        return
    columns = ["relation", "severity", "detector", "shared", "status", "org_id", "incident_id",
               "last_seen", "alert_id"]  # fmt: skip
    short(rows[columns], "related alerts", full=rows[[*columns, "summary"]])
    for alert in rows.head(5).itertuples():
        ui.link("alert", alert.alert_id, f"{alert.severity} {alert.detector}")


def audit(target_id: str) -> None:
    st.subheader("Audit trail")
    ui.table(ui.q("audit_trail", target_id), empty="No decisions yet.")
