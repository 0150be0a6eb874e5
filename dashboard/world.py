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
LAND_FILL = "#e5e7eb"
LAND_STROKE = "#9ca3af"


@functools.lru_cache(maxsize=1)
def land_features() -> tuple[dict[str, Any], ...]:
    """The land polygons as GeoJSON features (125 polygons, 5,123 points)."""
    text = (resources.files("dashboard") / "data" / OUTLINE_FILE).read_text("utf-8")
    return tuple(json.loads(text)["features"])


def land_frame() -> pd.DataFrame:
    """One row per land polygon, in the shape Vega-Lite's geoshape reads (a GeoJSON feature
    per datum): `type` and `geometry` columns."""
    return pd.DataFrame(
        {"type": [f["type"] for f in land_features()],
         "geometry": [f["geometry"] for f in land_features()]}
    )  # fmt: skip
