"""Known egress an analyst records: "this address is the partner's own", for a limited time.

Recorded instead of triaging the same off-allowlist address every day; detectors and incident
linking honour an entry until it expires or is removed (detect/egress.py reads this table).
Rows are never deleted: removal records who and when, so the decision stays auditable.
"""

from __future__ import annotations

import difflib
import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import pandas as pd

from ingest.errors import InputError
from ingest.netlist import IpAllowlist

MAX_IPV4_ADDRESSES = 256  # a /24: wider silences a provider's whole range, not a partner's NAT
MAX_IPV6_PREFIX = 64  # an IPv6 /64 is one site; wider is a provider
MAX_DAYS = 365
DEFAULT_DAYS = 90
SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}


@dataclass(frozen=True)
class Refusal:
    """One reason not to record an entry, overridable only with --force (audited)."""

    rule: str  # width | app | days
    reason: str


@dataclass(frozen=True)
class Silenced:
    """What an entry would silence: open (untriaged) alerts whose address falls in it, counted
    per detector and severity, most severe first."""

    counts: tuple[tuple[str, str, int], ...]  # (detector_id, severity, alerts)
    alert_ids: tuple[str, ...] = ()  # the alerts themselves, most severe first

    @property
    def total(self) -> int:
        return sum(n for _, _, n in self.counts)

    def describe(self) -> str:
        if not self.total:
            return "would silence no open alert"
        parts = ", ".join(f"{detector} ×{n} {severity}" for detector, severity, n in self.counts)
        plural = "alert" if self.total == 1 else "alerts"
        return f"would silence {self.total} open {plural}: {parts}"


def would_silence(
    con: duckdb.DuckDBPyConnection, network: str, *, app_name: str | None = None
) -> Silenced:
    """The open alerts (no triage yet, not superseded) with an address inside `network`, for
    `app_name` (any app when None). The one computation the CLI and the dashboard both show
    before recording known egress."""
    block = _parse(network)
    rows = con.execute(
        """SELECT a.detector_id, a.severity, a.app_name, a.ips, a.alert_id FROM alerts a
           LEFT JOIN triage t USING (alert_id)
           WHERE coalesce(t.status, 'new') = 'new' AND a.superseded_at IS NULL
           ORDER BY a.last_seen_at DESC, a.alert_id"""
    ).fetchall()
    counts: dict[tuple[str, str], int] = {}
    hit: list[tuple[int, str]] = []
    wanted = app_name.strip().lower() if app_name and app_name.strip() else None
    for detector, severity, app, ips, alert_id in rows:
        if wanted is not None and (app or "").lower() != wanted:
            continue
        if any(ip in block for ip in ips or ()):
            counts[(detector, severity)] = counts.get((detector, severity), 0) + 1
            hit.append((-SEVERITY_RANK.get(severity, 0), alert_id))
    ordered = sorted(
        counts.items(), key=lambda kv: (-SEVERITY_RANK.get(kv[0][1], 0), -kv[1], kv[0][0])
    )
    return Silenced(
        tuple((d, s, n) for (d, s), n in ordered),
        tuple(alert_id for _, alert_id in sorted(hit, key=lambda pair: pair[0])),
    )


def known_apps(con: duckdb.DuckDBPyConnection, configured: Iterable[str]) -> list[str]:
    """App names an entry may name: the configured ones and every one seen in the store."""
    seen = con.execute(
        """SELECT DISTINCT app_name FROM events WHERE app_name IS NOT NULL
           UNION SELECT DISTINCT app_name FROM alerts WHERE app_name IS NOT NULL"""
    ).fetchall()
    return sorted({*configured, *(row[0] for row in seen)}, key=str.lower)


def refusals(
    con: duckdb.DuckDBPyConnection,
    network: str,
    *,
    app_name: str | None,
    days: float,
    configured_apps: Iterable[str],
) -> list[Refusal]:
    """Why recording this entry would be unsafe (empty: safe). Raises InputError when
    `network` does not parse at all."""
    found: list[Refusal] = []
    size = _parse(network).address_count
    version = 6 if ":" in network else 4  # an IPv4 range never has a colon
    if version == 4 and size > MAX_IPV4_ADDRESSES:
        found.append(Refusal("width", (
            f"{network} covers {size} IPv4 addresses, more than {MAX_IPV4_ADDRESSES} (a /24): "
            "it would hide every address of a provider, not one partner's egress; record the "
            "partner's actual addresses or a /24 at most")))  # fmt: skip
    if version == 6 and size > 2 ** (128 - MAX_IPV6_PREFIX):
        prefix = 128 - (size - 1).bit_length()
        found.append(Refusal("width", (
            f"{network} is wider than an IPv6 /{MAX_IPV6_PREFIX} (about /{prefix}): it would hide "
            f"a provider's whole range; record the partner's /{MAX_IPV6_PREFIX} or narrower"
        )))  # fmt: skip
    app = app_name.strip() if app_name and app_name.strip() else None
    if app is not None:
        names = known_apps(con, configured_apps)
        if app.lower() not in {name.lower() for name in names}:
            nearest = difflib.get_close_matches(app, names, n=1, cutoff=0.6)
            hint = f"did you mean {nearest[0]!r}? " if nearest else ""
            found.append(Refusal("app", (
                f"app {app!r} is neither configured nor seen in the store, so the entry would "
                f"match nothing; {hint}omit --app for every partner app")))  # fmt: skip
    if days > MAX_DAYS:
        found.append(Refusal("days", (
            f"an expiry of {days:g} days is past {MAX_DAYS}: known egress must be re-checked; "
            f"record it for {MAX_DAYS} days or fewer (default {DEFAULT_DAYS}) and renew it"
        )))  # fmt: skip
    return found


def _parse(network: str) -> IpAllowlist:
    try:
        return IpAllowlist.parse([network.strip()])
    except ValueError as exc:
        raise InputError(f"{network!r} is not an address, CIDR or start-end range: {exc}") from None


def known_egress(
    con: duckdb.DuckDBPyConnection, now: datetime, *, include_inactive: bool = False
) -> pd.DataFrame:
    """Entries with their state at `now` (active | expired | removed), newest first."""
    return con.execute(
        """SELECT egress_id, network, app_name AS app, note, added_by, added_at, expires_at,
                  removed_by, removed_at,
                  CASE WHEN removed_at IS NOT NULL THEN 'removed'
                       WHEN expires_at <= ? THEN 'expired' ELSE 'active' END AS state
           FROM known_egress
           WHERE ? OR (removed_at IS NULL AND expires_at > ?)
           ORDER BY added_at DESC, egress_id""",
        [now, include_inactive, now],
    ).df()


def add_known_egress(
    con: duckdb.DuckDBPyConnection,
    network: str,
    *,
    expires_at: datetime,
    analyst: str,
    now: datetime,
    app_name: str | None = None,
    note: str | None = None,
    configured_apps: Iterable[str] | None = None,
    force: bool = False,
    via: str = "api",
) -> str:
    """Record `network` (address, CIDR or start-end) as known egress; return its id.

    Refused (InputError, nothing written) when `refusals` finds a reason, unless `force`: then
    recorded, with one audit_log row (target_kind 'egress') naming what was overridden. The app
    check runs only when `configured_apps` is given (the callers that know the configuration).
    """
    network = network.strip()
    _parse(network)
    if expires_at <= now:
        raise InputError("the expiry must be in the future")
    if not analyst or not analyst.strip():
        raise InputError("recording known egress needs the analyst's name")
    app = app_name.strip() if app_name and app_name.strip() else None
    found = refusals(
        con,
        network,
        app_name=app if configured_apps is not None else None,
        days=(expires_at - now) / timedelta(days=1),
        configured_apps=configured_apps or (),
    )
    if found and not force:
        raise InputError("; ".join(r.reason for r in found) + refusal_hint(via))
    egress_id = hashlib.md5(f"{network}|{app}|{now.isoformat()}".encode()).hexdigest()[:16]
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "INSERT INTO known_egress VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
            [egress_id, network, app, note, analyst.strip(), now, expires_at],
        )
        if found:
            overridden = "; ".join(f"{r.rule}: {r.reason}" for r in found)
            con.execute(
                "INSERT INTO audit_log VALUES "
                "(?, ?, ?, 'egress', ?, NULL, 'absent', 'active', ?, ?)",
                [uuid.uuid4().hex, now, analyst.strip(), egress_id,
                 f"forced known egress {network} for {app or 'every app'}, overriding "
                 f"{overridden}" + (f" | note: {note}" if note else ""), via],
            )  # fmt: skip
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return egress_id


def refusal_hint(via: str) -> str:
    if via == "cli":
        return " (or pass --force to record it anyway; the override is audited)"
    if via == "dashboard":
        return " (or tick the override box to record it anyway; the override is audited)"
    return ""


def remove_known_egress(
    con: duckdb.DuckDBPyConnection, egress_id: str, *, analyst: str, now: datetime
) -> bool:
    """Stop honouring an entry (kept, marked removed); False when no active entry has this id."""
    row = con.execute(
        """UPDATE known_egress SET removed_by = ?, removed_at = ?
           WHERE egress_id = ? AND removed_at IS NULL RETURNING egress_id""",
        [analyst, now, egress_id],
    ).fetchone()
    return row is not None
