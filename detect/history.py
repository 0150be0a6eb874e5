"""How much event history the detectors need: the shortest retention `tokensentry prune`
accepts.

Read from each detector's declaration and its resolved settings (defaults overridden by
`[detectors.<id>]`), never hard-coded, so a tuned `chain_days` raises the minimum with it:

- `lookback`: how far before a scan's start the detector reads (learning periods, token chains,
  idle-token windows);
- `history_setting` (its horizon): the days a full re-scan re-judges, so lifecycle re-grading
  (`detect --all` superseding alerts it no longer finds) still sees their events;
- every setting in days (`*_days`) or hours (`*_hours`): windows such as `chain_days`,
  `dormant_days` or `learning_days`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from ingest.config import Config

from .registry import all_detectors, settings_for


@dataclass(frozen=True)
class Need:
    detector_id: str
    days: int
    reason: str  # which declaration or setting asks for it, e.g. "chain_days = 120"


def needs(config: Config) -> list[Need]:
    """Each detector's longest need, longest first."""
    found = []
    for detector in all_detectors():
        settings = settings_for(detector, config.detectors.get(detector.id))
        # Settings first: on a tie the reason names what an operator can tune.
        candidates: list[tuple[int, str]] = []
        for key, value in settings.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if key.endswith("_days"):
                candidates.append((math.ceil(value), f"{key} = {value}"))
            elif key.endswith("_hours"):
                candidates.append((math.ceil(value / 24), f"{key} = {value}"))
        horizon = detector.horizon(settings)
        if horizon is not None:
            candidates.append((_days(horizon), f"{detector.history_setting} = {horizon.days}"))
        candidates.append((_days(detector.lookback), f"lookback {detector.lookback.days} days"))
        days, reason = max(candidates, key=lambda c: c[0])
        found.append(Need(detector.id, days, reason))
    return sorted(found, key=lambda n: (-n.days, n.detector_id))


def minimum_retention(config: Config) -> Need:
    """The longest need: a retention shorter than this starves that detector."""
    return needs(config)[0]


def _days(span: timedelta) -> int:
    return math.ceil(span.total_seconds() / 86400)
