"""One-call helpers for the investigation notebooks, in msticpy's shape.

msticpy gives an analyst `df.mp_plot.timeline()`, a folium map and IP enrichment in one call
each. Installing it would add well over a hundred packages (its Azure, Kusto, Splunk and
geo-IP provider stacks) next to tokensentry's dozen, for three functions we can write on what
tokensentry already ships: altair (with Streamlit) for charts and the bundled GeoLite2 data
with the IOC list for enrichment. So these keep msticpy's ergonomics and none of its weight:

    con = nb.connect()                 # the store, read-only, wherever the notebook runs from
    nb.timeline(events)                # one dot per event, a row per address, coloured by outcome
    nb.map(events)                     # where the events came from, the jumps drawn between them
    nb.enrich(events)                  # country, city, radius, allowlisted?, published IOC?

Charts render as static SVG (`offline_charts`, switched on when this module is imported):
altair's default output loads Vega's JavaScript from a CDN and is blank without internet.

The store and the configuration are found through TOKENSENTRY_DB and TOKENSENTRY_CONFIG
(CONTRACT §2), else the repository's data/ folder, so a notebook works whatever its folder.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import altair as alt
import duckdb
import pandas as pd

from detect.detectors.suspicious_client import load_iocs
from detect.egress import infrastructure
from detect.egress import load as load_known_egress
from detect.geo import locator_for
from ingest import config as config_module
from ingest import db
from ingest.config import Config

from . import world
from .settings import DEFAULT_CONFIG, DEFAULT_DB

REPO = Path(__file__).resolve().parent.parent


def offline_charts() -> None:
    """Render altair charts as inline SVG (vl-convert, no browser, no network): the output
    carries the picture itself, not a script that fetches Vega from a CDN."""
    alt.renderers.enable("svg")


offline_charts()
DEMO_CONFIG = Path("data/demo/tokensentry.toml")  # what `make demo` writes


def store_path() -> Path:
    """TOKENSENTRY_DB, else data/tokensentry.duckdb of the current folder or the repository."""
    return _locate("TOKENSENTRY_DB", DEFAULT_DB)


def config_path() -> Path:
    """TOKENSENTRY_CONFIG, else data/tokensentry.toml, else the demo's configuration."""
    chosen = _locate("TOKENSENTRY_CONFIG", DEFAULT_CONFIG)
    if "TOKENSENTRY_CONFIG" in os.environ or chosen.exists():
        return chosen
    return _locate("TOKENSENTRY_CONFIG", DEMO_CONFIG)


def _locate(variable: str, default: Path) -> Path:
    if os.environ.get(variable):
        return Path(os.environ[variable]).expanduser().resolve()
    here = Path.cwd() / default
    return here if here.exists() else REPO / default


def connect() -> duckdb.DuckDBPyConnection:
    """The store, read-only: a notebook never writes, and ingest can run beside it."""
    return db.open_store(store_path(), read_only=True)


def load_config() -> Config:
    return config_module.load(config_path(), required=False)


def timeline(
    events: pd.DataFrame,
    *,
    time: str = "occurred_at",
    lane: str = "source_ip",
    color: str = "outcome",
    title: str = "Timeline",
) -> alt.Chart:
    """One dot per event: time across, one lane per `lane` value, coloured by `color`
    (default: accepted / refused / unknown from `is_success`); hover for the details."""
    frame = events.copy()
    if color == "outcome" and "outcome" not in frame:
        frame["outcome"] = frame["is_success"].map({True: "accepted", False: "refused"})
        frame["outcome"] = frame["outcome"].fillna("unknown")
    wanted = (time, lane, color, "org_id", "username", "user_id", "app", "event_type",
              "grant_type", "status", "user_agent", "worker")  # fmt: skip
    tooltip = [c for c in wanted if c in frame]
    frame = frame[tooltip].astype({c: "string" for c in tooltip if c != time})
    return (
        alt.Chart(frame, title=title)
        .mark_circle(size=60, opacity=0.8)
        .encode(
            x=alt.X(f"{time}:T", title="UTC"),
            y=alt.Y(f"{lane}:N", title=lane),
            color=alt.Color(f"{color}:N"),
            tooltip=tooltip,
        )
        .properties(width=760)
    )


def map(events: pd.DataFrame, *, title: str = "Where the events came from") -> alt.LayerChart:
    """Each located address as a dot sized by its events on a longitude/latitude plane over the
    bundled coastlines (`dashboard.world`), and a line from each place to the next in time (the
    jump, for impossible travel). No map tiles: the chart works offline and sends no address
    to a tile server."""
    located = events.dropna(subset=["latitude", "longitude"])
    places = (
        located.groupby(["source_ip", "latitude", "longitude"], dropna=False)
        .agg(
            events=("occurred_at", "size"),
            first_seen=("occurred_at", "min"),
            country=("country_iso", "first"),
            city=("city", "first"),
        )
        .reset_index()
        .sort_values("first_seen")
    )
    places["order"] = range(len(places))
    places["first_seen"] = places["first_seen"].astype("string")
    base = alt.Chart(places, title=title)
    path = base.mark_line(strokeDash=[4, 3], color="#b22222").encode(
        x=alt.X("longitude:Q", scale=alt.Scale(domain=[-180, 180])),
        y=alt.Y("latitude:Q", scale=alt.Scale(domain=[-60, 75])),
        order="order:Q",
    )
    dots = base.mark_circle(opacity=0.8).encode(
        x="longitude:Q",
        y="latitude:Q",
        size=alt.Size("events:Q", scale=alt.Scale(range=[60, 600])),
        color=alt.Color("source_ip:N", legend=None),
        tooltip=["source_ip", "city", "country", "events", "first_seen"],
    )
    labels = base.mark_text(dy=-12, fontSize=10).encode(
        x="longitude:Q", y="latitude:Q", text="source_ip:N"
    )
    outline = world.outline_frame()
    shown = outline.groupby("line")["lat"].transform("max") >= -60  # the plane stops at 60° S
    coast = (
        alt.Chart(outline[shown])
        .mark_line(stroke=world.COAST_STROKE, strokeWidth=0.6)
        .encode(
            x=alt.X("lon:Q", scale=alt.Scale(domain=[-180, 180]), title="longitude"),
            y=alt.Y("lat:Q", scale=alt.Scale(domain=[-60, 75]), title="latitude"),
            detail="line:N",
            order="order:Q",
        )
    )
    return (coast + path + dots + labels).properties(width=760, height=380)


def enrich(
    events: pd.DataFrame,
    con: duckdb.DuckDBPyConnection | None = None,
    *,
    ip: str = "source_ip",
    config: Config | None = None,
) -> pd.DataFrame:
    """Add, per address: GeoLite2 country, city and accuracy radius (km), whether it is inside
    a configured allowlist or known egress (the partner's own), and whether it is a published
    indicator (detect/data/iocs.json or your [detectors.suspicious_client] ioc_file)."""
    config = config or load_config()
    locator = locator_for(config.geoip)
    iocs = {entry["ip"]: entry["note"] for entry in load_iocs("")["ips"]}
    if con is None:
        with db.connect(store_path(), read_only=True) as own:
            known = load_known_egress(own, config, datetime.now(UTC))
    else:
        known = load_known_egress(con, config, datetime.now(UTC))
    nets = infrastructure(config, known)
    rows = []
    for address in events[ip].dropna().unique():
        place = locator.lookup(address)
        rows.append(
            {
                ip: address,
                "geo_country": place.country_iso if place else None,
                "geo_city": place.city if place else None,
                "geo_radius_km": place.accuracy_km if place else None,
                "partner_egress": any(address in net for net in nets),
                "ioc": iocs.get(address),
            }
        )
    facts = pd.DataFrame(rows, columns=[ip, "geo_country", "geo_city", "geo_radius_km",
                                        "partner_egress", "ioc"])  # fmt: skip
    return events.merge(facts, on=ip, how="left")


def show_json(value: object) -> str:
    """Evidence objects as indented JSON text (never rendered as markup)."""
    return json.dumps(value, indent=2, default=str, sort_keys=True)


def pipeline_health(
    con: duckdb.DuckDBPyConnection, config: Config | None = None, now: datetime | None = None
) -> pd.DataFrame:
    """Pipeline health per org × source, the same answer as `/pipeline`, the digest and
    `tokensentry health` (`dashboard.queries.pipeline_health`), with the org's alias as `org`."""
    from .queries import pipeline_health as health

    config = config or load_config()
    frame = health(con, now or datetime.now(UTC).replace(tzinfo=None), config)
    labels = {org.org_id: alias for alias, org in config.orgs.items() if org.org_id}
    return frame.assign(org=frame["org_id"].map(lambda org_id: labels.get(org_id, org_id)))
