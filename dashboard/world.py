"""The world's land outline (Natural Earth 1:110m, public domain; dashboard/data/NATURAL_EARTH.md)
that maps draw under their points, shipped in the package: no tile, style or TopoJSON server,
so a map draws offline and sends no address anywhere."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import pandas as pd

OUTLINE_FILE = "world_land_110m.geojson"
COAST_STROKE = "#6b7280"


@functools.lru_cache(maxsize=1)
def land_features() -> tuple[dict[str, Any], ...]:
    """The land polygons as GeoJSON features (125 polygons, 5,123 points)."""
    text = (resources.files("dashboard") / "data" / OUTLINE_FILE).read_text("utf-8")
    return tuple(json.loads(text)["features"])


def outline_frame() -> pd.DataFrame:
    """The coastlines as points in drawing order, one `line` per ring (a ring is split where
    it would cross the antimeridian): a line chart with `detail=line, order=order` draws
    them. Plain numbers, so they survive Streamlit's Arrow transport (a GeoJSON geometry
    column would not: Vega reads Arrow lists as vectors, not arrays)."""
    return _outline().copy()


@functools.lru_cache(maxsize=1)
def _outline() -> pd.DataFrame:
    lines, orders, lons, lats = [], [], [], []
    line = 0
    for feature in land_features():
        for ring in feature["geometry"]["coordinates"]:
            previous = None
            for order, (lon, lat) in enumerate(ring):
                if previous is not None and abs(lon - previous) > 180:
                    line += 1
                lines.append(line)
                orders.append(order)
                lons.append(lon)
                lats.append(lat)
                previous = lon
            line += 1
    return pd.DataFrame(  # compact types: the table travels to the browser with every map
        {
            "line": pd.array(lines, dtype="int16"),
            "order": pd.array(orders, dtype="int16"),
            "lon": pd.array(lons, dtype="float32"),
            "lat": pd.array(lats, dtype="float32"),
        }
    )
