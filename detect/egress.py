"""The partner's infrastructure as detectors see it: allowlists plus known egress.

Two sources name an address as the partner's own: `known_egress` of an app in the
configuration (permanent, reviewed like code) and the `known_egress` table, where an analyst
records an address seen in the queue for a limited time (dashboard / `tokensentry egress add`).
Detectors receive one `KnownEgress` through their Context, built once per run with the entries
in force at the run's start, so every detector of one run judges an address the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from ingest.config import Config
from ingest.netlist import IpAllowlist

ACTIVE_SQL = """
SELECT network, lower(app_name) AS app_key FROM known_egress
WHERE removed_at IS NULL AND expires_at > ?
ORDER BY egress_id
"""


@dataclass(frozen=True)
class KnownEgress:
    """Addresses judged to be the partner's egress: for one app (`by_app`) or any app."""

    any_app: IpAllowlist = field(default_factory=lambda: IpAllowlist.parse([]))
    by_app: Mapping[str, IpAllowlist] = field(default_factory=dict)  # lower-case app name

    def covers(self, ip: str | None, app_name: str | None = None) -> bool:
        """Whether `ip` is known egress of `app_name` (or of any app when no app is given)."""
        if ip is None:
            return False
        if ip in self.any_app:
            return True
        if app_name is None:
            return any(ip in net for net in self.by_app.values())
        net = self.by_app.get(app_name.lower())
        return net is not None and ip in net

    @property
    def is_empty(self) -> bool:
        return not self.any_app.entries and not self.by_app


def load(con: duckdb.DuckDBPyConnection, config: Config, now: datetime) -> KnownEgress:
    """Config `known_egress` plus the store's entries not expired or removed at `now`."""
    any_app: list[str] = []
    by_app: dict[str, list[str]] = {}
    for name, app in config.apps.items():
        if app.known_egress is not None:
            by_app.setdefault(name.lower(), []).extend(app.known_egress.entries)
    for network, app_key in con.execute(ACTIVE_SQL, [now]).fetchall():
        if app_key is None:
            any_app.append(network)
        else:
            by_app.setdefault(app_key, []).append(network)
    return KnownEgress(
        any_app=IpAllowlist.parse(any_app),
        by_app={key: IpAllowlist.parse(entries) for key, entries in by_app.items()},
    )


def infrastructure(config: Config, known: KnownEgress) -> list[IpAllowlist]:
    """Every allowlist and known egress: addresses shared by many alerts that prove nothing."""
    nets = [app.allowlist for app in config.apps.values() if app.allowlist is not None]
    nets.append(known.any_app)
    nets.extend(known.by_app.values())
    return nets
