"""What the scenario world promises beside its records: the attacks planted in it, the benign
behaviour set beside them, and the files it delivers.

The records themselves (logins, API calls, bulk jobs, partner token calls, token reads) are
the shared world model's (`sandbox.model`); `render.py` writes each org's share the way that
org's evidence reaches tokensentry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Planted:
    """An attack the world contains and the alert it must raise.

    An alert is this attack's when its detector matches, its org matches (None: any, for
    fleet-wide correlations), one of its IPs is among `ips`, and its time span overlaps
    [`start`, `end`]."""

    label: str
    threat: str  # the THREATS.md class
    detector: str
    severity: str
    org_id: str | None
    ips: frozenset[str]
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Benign:
    """Behaviour that must stay below medium, and where it shows (for reporting)."""

    label: str
    org_id: str | None
    ips: frozenset[str]
    start: datetime
    end: datetime


@dataclass(frozen=True)
class WorldFile:
    path: str  # relative to the world's root
    org_id: str | None  # what `import --org` must say (LoginHistory carries no org id)
    delivered_at: datetime  # when the file reaches tokensentry (ELF: hours after the fact)
