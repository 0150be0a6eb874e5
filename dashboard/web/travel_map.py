"""Where an alert's or incident's events came from, drawn offline: the bundled world coastlines
(`dashboard.world`), every located address as a large red dot with a white rim and its label,
and for impossible travel each jump as a line labelled with its distance, time and speed.

An Altair (Vega-Lite) chart, which Streamlit renders from its own bundle: no tile server, no
map style, no TopoJSON URL, so nothing is fetched and no address leaves the machine (pydeck's
default map style, by contrast, loads a basemap style from the internet).
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import world
from dashboard.web import safe_text

POINT_FILL = "#dc2626"
JUMP_STROKE = "#1d4ed8"
HEIGHT = 420


def jump_labels(jumps: pd.DataFrame) -> pd.DataFrame:
    """One row per jump: its two ends, the midpoint for its label, and the label itself."""
    rows = []
    for jump in jumps.itertuples():
        (lon1, lat1), (lon2, lat2) = jump.source, jump.target
        minutes = jump.minutes if jump.minutes == jump.minutes else None  # NaN: unknown
        speed = (
            f" · {jump.speed_kmh:,.0f} km/h"
            if jump.speed_kmh is not None and jump.speed_kmh == jump.speed_kmh
            else ""
        )
        took = f" in {minutes:,.0f} min" if minutes is not None else ""
        rows.append(
            {
                "from_ip": jump.from_ip,
                "to_ip": jump.to_ip,
                "lon1": lon1, "lat1": lat1, "lon2": lon2, "lat2": lat2,
                "mid_lon": (lon1 + lon2) / 2, "mid_lat": (lat1 + lat2) / 2,
                "label": f"{jump.distance_km:,.0f} km{took}{speed}",
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def chart(places: pd.DataFrame, jumps: pd.DataFrame) -> alt.LayerChart:
    """The map's layers: land, jump lines and their labels, points and their labels."""
    located = places.dropna(subset=["latitude", "longitude"]).assign(
        label=lambda f: f["ip"].astype(str) + " · " + f["city"].fillna("?").astype(str)
    )[["ip", "country", "city", "latitude", "longitude", "events", "label"]]
    land = (
        alt.Chart(safe_text.chart_frame(world.outline_frame()))
        .mark_line(stroke=world.COAST_STROKE, strokeWidth=0.8)
        .encode(longitude="lon:Q", latitude="lat:Q", detail="line:N", order="order:Q")
    )
    layers: list[alt.Chart] = [land]
    if not jumps.empty:
        segments = alt.Chart(safe_text.chart_frame(jump_labels(jumps)))
        layers.append(
            segments.mark_rule(stroke=JUMP_STROKE, strokeWidth=3, strokeDash=[8, 4]).encode(
                longitude="lon1:Q", latitude="lat1:Q", longitude2="lon2:Q", latitude2="lat2:Q"
            )
        )
        for halo in ({"stroke": "white", "strokeWidth": 4}, {}):  # readable over coastlines
            layers.append(
                segments.mark_text(
                    fontSize=13, fontWeight="bold", fill=JUMP_STROKE, dy=-16, **halo
                ).encode(longitude="mid_lon:Q", latitude="mid_lat:Q", text="label:N")
            )
    dots = alt.Chart(safe_text.chart_frame(located))
    layers.append(
        dots.mark_circle(
            size=320, fill=POINT_FILL, stroke="white", strokeWidth=2, opacity=1
        ).encode(
            longitude="longitude:Q",
            latitude="latitude:Q",
            tooltip=["ip:N", "city:N", "country:N", "events:Q"],
        )
    )
    for halo in ({"stroke": "white", "strokeWidth": 4}, {}):
        layers.append(
            dots.mark_text(fontSize=12, fontWeight="bold", dy=-18, fill="#111827", **halo).encode(
                longitude="longitude:Q", latitude="latitude:Q", text="label:N"
            )
        )
    return alt.layer(*layers).project(type="equalEarth").properties(height=HEIGHT)


def show(places: pd.DataFrame, jumps: pd.DataFrame) -> None:
    st.altair_chart(chart(places, jumps), width="stretch")
