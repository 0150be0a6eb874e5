"""The sections an incident page and an alert page share: header, evidence, timeline, map,
token chain, related alerts and audit trail. Layout only; every value comes from
`dashboard.queries` through `ui.q`, and every attacker-controlled string is shown as text."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import pydeck as pdk
import streamlit as st

from dashboard import queries
from dashboard.web import network_owners, safe_text, ui

CHART_COLUMNS = ("occurred_at", "event_type", "grant_type", "outcome", "where")


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
        ui.labelled("First seen (UTC)", f"{record['first_seen']:%Y-%m-%d %H:%M:%S}")
        ui.labelled("Last seen (UTC)", f"{record['last_seen']:%Y-%m-%d %H:%M:%S}")
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


def runbook(record: dict[str, Any]) -> None:
    if record.get("runbook"):
        st.subheader("Runbook")
        # Our own text from the detector catalogue (checked against it), never data.
        st.markdown(safe_text.product_markdown(record["runbook"]))


def evidence(record: dict[str, Any]) -> None:
    st.subheader("Evidence")
    safe_text.json(record["evidence"], expanded=2)  # a JSON viewer: values stay text
    inference = record.get("app_inference")
    st.subheader("App")
    if inference:
        st.text("The logs did not name the app; it was inferred:")
        safe_text.json(inference, expanded=True)
    else:
        ui.labelled("Named in the logs", record.get("app") or "(none)")


def timeline(kind: str, target_id: str) -> None:
    events = ui.q("evidence_events", kind, target_id)
    st.subheader(f"Events ({len(events):,})")
    if events.empty:
        st.caption(ui.md("No events recorded for this " + kind))
        return
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
    located = places.dropna(subset=["latitude", "longitude"])
    if not located.empty:
        layers = [
            pdk.Layer(
                "ScatterplotLayer",
                data=safe_text.chart_frame(located[["ip", "latitude", "longitude", "events"]]),
                get_position="[longitude, latitude]",
                get_radius=60000,
                get_fill_color=[220, 38, 38, 180],
                pickable=True,
            )
        ]
        jumps = queries.travel_jumps(places) if draw_jumps else pd.DataFrame()
        if not jumps.empty:
            layers.append(
                pdk.Layer(
                    "ArcLayer",
                    data=safe_text.chart_frame(jumps[["source", "target", "from_ip", "to_ip"]]),
                    get_source_position="source",
                    get_target_position="target",
                    get_source_color=[59, 130, 246],
                    get_target_color=[220, 38, 38],
                    get_width=4,
                )
            )
        st.pydeck_chart(
            pdk.Deck(
                layers=layers,
                initial_view_state=pdk.ViewState(
                    latitude=float(located["latitude"].mean()),
                    longitude=float(located["longitude"].mean()),
                    zoom=1,
                ),
                map_style=None,  # no tile server: the points and arcs carry the meaning
                tooltip={"text": "{ip}"},
            )
        )
        if not jumps.empty:
            st.text("Jumps (in order):")
            ui.table(jumps[["from_ip", "from_place", "left_at", "to_ip", "to_place", "arrived_at"]])
    ui.table(places[["ip", "country", "city", "first_seen", "last_seen", "events"]])


def token_chain(kind: str, target_id: str) -> None:
    chain = ui.q("token_chain", kind, target_id)
    st.subheader("Token chain")
    st.caption(
        "Which worker presented which refresh-token fingerprint, when, from where, and "
        "what Salesforce did with it."
    )
    ui.table(chain, empty="No token fingerprints in these events.")


def related(alert_id: str, exclude: set[str]) -> None:
    st.subheader("Related alerts (same app, user or IP, any org)")
    rows = ui.q("related_alerts", alert_id)
    rows = rows[~rows["alert_id"].isin(exclude)]
    ui.table(
        rows[
            [
                "relation",
                "alert_id",
                "detector",
                "severity",
                "status",
                "org_id",
                "app",
                "username",
                "ips",
                "last_seen",
                "summary",
            ]
        ],
        empty="None.",
        max_rows=50,
    )
    for alert in rows.head(10).itertuples():
        ui.link("alert", alert.alert_id, f"{alert.severity} {alert.detector}")


def audit(target_id: str) -> None:
    st.subheader("Audit trail")
    ui.table(ui.q("audit_trail", target_id), empty="No decisions yet.")
