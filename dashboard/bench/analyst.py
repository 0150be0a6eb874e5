"""The bench's yardstick for the whole product: file → alerts against an analyst's notebook.

An analyst without tokensentry opens the Login EventLogFile in pandas and runs the two checks
everybody writes first: refresh-token / code logins from outside the partner's allowlist, and
a person's consecutive logins too far apart for the time between them (GeoLite2, the database
the detectors use). `notebook` is that notebook, written as an analyst would: `read_csv`,
boolean masks, a dict over the distinct IPs, `groupby().shift()`, numpy haversine.

`file_to_alerts` is tokensentry on the same file: `import` into a fresh store, then every
detector (attribution, lifecycle and incidents included), as `tokensentry import` followed by
`tokensentry detect --all` would. Both start from the CSV on disk and end with findings.
"""

from __future__ import annotations

import ipaddress
import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from detect import runner
from ingest import db
from ingest.config import AppConfig, Config
from ingest.importer import import_paths
from ingest.netlist import IpAllowlist
from sandbox import bulk

MAX_KMH, MIN_KM, MAX_GAP_HOURS = 900, 500, 24


def login_elf(events: int, workdir: Path, keep: bool) -> Path:
    """The bench's Login ELF of `events` rows; with `keep` (a --workdir) reused across runs."""
    path = workdir / f"bench-Login-{events}.csv"
    if keep and path.exists():
        return path
    partial = bulk.write_login_elf(path.with_suffix(".partial.csv"), events)
    partial.replace(path)
    return path


def notebook(path: Path, allowlist: list[str]) -> dict[str, Any]:
    """The analyst's notebook: pandas and two checks. Returns its counts and seconds."""
    import geoip2.database
    import numpy as np
    import pandas as pd

    from detect.geo import bundled_city_db

    started = time.perf_counter()
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df["ts"] = pd.to_datetime(df["TIMESTAMP_DERIVED"], format="ISO8601")
    df["day"] = df["ts"].dt.date
    read = time.perf_counter() - started

    # 1. Refresh-token and code logins from outside the allowlist, per org × IP × day.
    nets = [ipaddress.ip_network(n) for n in allowlist]
    ips = df["SOURCE_IP"].unique()
    inside = {ip: any(ipaddress.ip_address(ip) in net for net in nets) for ip in ips}
    oauth = df[df["LOGIN_SUB_TYPE"].isin(["oauthrefreshtoken", "oauthcode"])]
    off = oauth[~oauth["SOURCE_IP"].map(inside)]
    off_allowlist = off.groupby(["ORGANIZATION_ID", "SOURCE_IP", "day"]).size()

    # 2. Impossible travel: a person's successful interactive logins, pairwise in time.
    reader = geoip2.database.Reader(str(bundled_city_db()))
    where: dict[str, tuple[float, float]] = {}
    for ip in ips:
        try:
            location = reader.city(ip).location
            where[ip] = (location.latitude, location.longitude)
        except (ValueError, geoip2.errors.AddressNotFoundError):
            where[ip] = (np.nan, np.nan)
    people = df[(df["LOGIN_TYPE"] == "A") & (df["LOGIN_STATUS"] == "LOGIN_NO_ERROR")].copy()
    people["lat"] = people["SOURCE_IP"].map(lambda ip: where[ip][0])
    people["lon"] = people["SOURCE_IP"].map(lambda ip: where[ip][1])
    people = people.sort_values(["ORGANIZATION_ID", "USER_ID", "ts"])
    previous = people.groupby(["ORGANIZATION_ID", "USER_ID"])[["ts", "SOURCE_IP", "lat", "lon"]]
    prev = previous.shift()
    lat1, lon1 = np.radians(prev["lat"]), np.radians(prev["lon"])
    lat2, lon2 = np.radians(people["lat"]), np.radians(people["lon"])
    a = np.sin((lat2 - lat1) / 2) ** 2
    a += np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    km = 2 * 6371.0 * np.arcsin(np.sqrt(a))
    hours = (people["ts"] - prev["ts"]).dt.total_seconds() / 3600
    travel = people[
        (prev["SOURCE_IP"] != people["SOURCE_IP"])
        & (hours <= MAX_GAP_HOURS)
        & (km >= MIN_KM)
        & (km / hours.clip(lower=1e-9) > MAX_KMH)
    ]
    return {
        "notebook_seconds": round(time.perf_counter() - started, 3),
        "notebook_read_csv_seconds": round(read, 3),
        "notebook_off_allowlist_groups": len(off_allowlist),
        "notebook_impossible_travel_pairs": len(travel),
    }


def file_to_alerts(path: Path, workdir: Path, config: Config) -> dict[str, Any]:
    """`tokensentry import FILE` then `tokensentry detect --all` on a fresh store."""
    store = workdir / "file-to-alerts.duckdb"
    store.unlink(missing_ok=True)
    try:
        with db.connect(store) as con:
            started = time.perf_counter()
            import_paths(con, [path], org_id=None, run_id="bench-f2a", now=_now)
            imported = time.perf_counter() - started
            detected = runner.run(con, config, run_id="bench-f2a-detect", now=_now, rescan_all=True)
            total = time.perf_counter() - started
            alerts = con.execute("SELECT count(*) FROM alerts").fetchone()[0]  # type: ignore[index]
    finally:
        store.unlink(missing_ok=True)
        shutil.rmtree(db.spill_dir(store), ignore_errors=True)
    return {
        "file_to_alerts_seconds": round(total, 3),
        "file_to_alerts_import_seconds": round(imported, 3),
        "file_to_alerts_detect_seconds": round(total - imported, 3),
        "file_to_alerts_alerts": alerts,
        "file_to_alerts_failed": detected.failed,
    }


def _now() -> datetime:
    return datetime(2026, 11, 29)


def measure(events: int, workdir: Path, keep: bool, allowlist: list[str]) -> dict[str, Any]:
    """Both paths on one file; `file_to_alerts_vs_notebook` > 1 means tokensentry is faster."""
    path = login_elf(events, workdir, keep)
    config = Config(
        path=None, apps={"Acme Sync": AppConfig("Acme Sync", None, IpAllowlist.parse(allowlist))}
    )
    try:
        figures = notebook(path, allowlist)
        figures.update(file_to_alerts(path, workdir, config))
    finally:
        if not keep:
            path.unlink(missing_ok=True)
    figures["file_to_alerts_vs_notebook"] = round(
        figures["notebook_seconds"] / figures["file_to_alerts_seconds"], 3
    )
    return figures
