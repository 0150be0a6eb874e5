"""Event factories for detector examples, tests and notebooks.

Every column gets a sensible default, so an example states only what matters:
`refresh("2026-05-01T09:00", "198.51.100.7")` is a successful refresh-token login of the
default integration user of the default app in the default org, seen in LoginHistory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

from ingest.config import AppConfig, Config, GeoIpConfig
from ingest.netlist import IpAllowlist
from ingest.normalize import EVENT_COLUMN_TYPES, EVENT_COLUMNS
from ingest.timeparse import now_utc, parse_iso

from . import owners

ORG = "00D5g000004XyZaEAK"
OTHER_ORG = "00D5g000007PqRsEAK"
USER = "0055g00000AbCdEAAV"
HUMAN = "0055g00000HuMaNAAV"
APP = "Acme Sync"
ALLOWLIST = ("203.0.113.0/28", "2001:db8:10::/48")
ALLOWED_IP = "203.0.113.5"
INFERRED_COLUMNS = {"inferred_app": "VARCHAR", "app_inferred_reason": "VARCHAR",
                    "app_confidence": "DOUBLE"}  # fmt: skip


def event(at: str, **fields: Any) -> dict[str, Any]:
    occurred = parse_iso(at)
    row: dict[str, Any] = {
        "org_id": ORG,
        "occurred_at": occurred,
        "event_type": "login",
        "is_success": True,
        "status": "Success",
        "user_id": USER,
        "app_name": APP,
        "source_ip": ALLOWED_IP,
        "login_type": "Remote Access 2.0",
        "sources": ["soql:LoginHistory"],
    }
    row.update(fields)
    if "event_id" not in row:
        basis = "|".join(f"{k}={row[k]}" for k in sorted(row) if k != "sources")
        row["event_id"] = hashlib.md5(basis.encode()).hexdigest()
    return row


def refresh(at: str, ip: str, **fields: Any) -> dict[str, Any]:
    """A refresh_token grant as Salesforce logs it (LoginHistory, OAuth Refresh Token)."""
    fields = {"grant_type": "refresh_token", "login_sub_type": "OAuth Refresh Token", **fields}
    return event(at, source_ip=ip, **fields)


def elf_refresh(
    at: str, ip: str, *, reason: str = "token owner", confidence: float = 0.8, **fields: Any
) -> dict[str, Any]:
    """A refresh-token login as the Login ELF logs it (no app column), with the app that
    `detect.attribution` inferred for it."""
    fields = {
        "app_name": None, "sources": ["elf:Login"], "inferred_app": APP,
        "app_inferred_reason": f"{reason}: evidence names only {APP}",
        "app_confidence": confidence, **fields,
    }  # fmt: skip
    return refresh(at, ip, **fields)


def web_login(at: str, ip: str, **fields: Any) -> dict[str, Any]:
    """An OAuth web-server (authorization code) login by a person."""
    fields = {
        "user_id": HUMAN,
        "grant_type": "authorization_code",
        "login_sub_type": "OAuth Web Server",
        **fields,
    }
    return event(at, source_ip=ip, **fields)


def jwt_login(at: str, ip: str, **fields: Any) -> dict[str, Any]:
    return event(at, source_ip=ip, grant_type="oauth_unspecified", login_sub_type=None, **fields)


def partner_call(
    at: str, ip: str | None, grant: str = "refresh_token", **fields: Any
) -> dict[str, Any]:
    """One line of the partner's own token-exchange log."""
    fields = {
        "event_type": "token_exchange",
        "grant_type": grant,
        "status": "success",
        "login_type": None,
        "sources": ["partner_token_log"],
        **fields,
    }
    return event(at, source_ip=ip, **fields)


def config(apps: Mapping[str, Sequence[str]] | None = None) -> Config:
    """A configuration with the given app allowlists (default: APP with ALLOWLIST); an app given
    no ranges is configured without an allowlist."""
    chosen = {APP: ALLOWLIST} if apps is None else apps
    return Config(
        path=None,
        apps={
            name: AppConfig(
                name=name,
                consumer_key=None,
                allowlist=IpAllowlist.parse(list(cidrs)) if cidrs else None,
            )
            for name, cidrs in chosen.items()
        },
    )


def insert_events(
    con: duckdb.DuckDBPyConnection,
    rows: Iterable[Mapping[str, Any]],
    *,
    loaded_at: datetime | None = None,
) -> int:
    """Insert factory rows into `events`, filling bookkeeping columns (loaded now by default)."""
    frame = pd.DataFrame([dict(row) for row in rows])
    if frame.empty:
        return 0
    for column in EVENT_COLUMNS:
        if column not in frame:
            frame[column] = None
    now = pd.Timestamp(loaded_at or now_utc())
    frame["first_run_id"] = "example"
    frame["ingested_at"] = now
    frame["updated_at"] = now
    if "identity_key" not in frame:
        frame["identity_key"] = None
    inferred = [col for col in INFERRED_COLUMNS if col in frame]  # detect/attribution.py's
    casts = ", ".join(
        f"CAST({col} AS {EVENT_COLUMN_TYPES.get(col, INFERRED_COLUMNS.get(col, 'VARCHAR'))}) "
        f"AS {col}"
        for col in (*EVENT_COLUMNS, *inferred)
    )
    con.register("factory_rows", frame)
    con.execute(
        f"""INSERT INTO events BY NAME SELECT event_id, identity_key, {casts},
               CAST(sources AS VARCHAR[]) AS sources, first_run_id, ingested_at, updated_at
            FROM factory_rows"""
    )
    con.unregister("factory_rows")
    owners.enrich(con, GeoIpConfig(), now=now.to_pydatetime())  # as `detect` does first
    return len(frame)


def token_snapshot(
    last_used: str, created: str = "2026-06-01T00:00:00", **fields: Any
) -> dict[str, Any]:
    """An OauthToken row: a refresh token's creation, last use and use count."""
    fields = {
        "event_type": "token_usage", "grant_type": "refresh_token", "source_ip": None,
        "login_type": None, "status": None, "is_success": None, "use_count": 10,
        "token_created_at": parse_iso(created), "sources": ["soql:OauthToken"], **fields,
    }  # fmt: skip
    return event(last_used, **fields)


def ui_login(at: str, ip: str, **fields: Any) -> dict[str, Any]:
    """A person logging in to Salesforce in a browser (no connected app)."""
    fields = {
        "user_id": HUMAN, "grant_type": "ui", "login_type": "Application",
        "login_sub_type": "UI Username-Password", "app_name": None, **fields,
    }  # fmt: skip
    return event(at, source_ip=ip, **fields)
