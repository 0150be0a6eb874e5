"""`[ingest]` and `[detectors.*]`: the numbers that tune ingest and the detectors.

A threshold or a window of zero or less cannot be right (`max_kmh = -5` turns every pair of
logins into impossible travel), so it is refused. Which keys a detector has, and their types,
is checked by `detect.registry` (ingest does not know the detectors).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from .model import IngestConfig
from .values import only_keys, positive, table

WINDOWS = {"lookback_days": "30", "timeout_s": "120", "write_batch": "20000"}  # above 0


def ingest(body: Mapping[str, Any]) -> IngestConfig:
    defaults = IngestConfig()
    only_keys("ingest", body, set(vars(defaults)))
    values: dict[str, Any] = {}
    for name, default in vars(defaults).items():
        if name not in body:
            continue
        value = body[name]
        if isinstance(default, dict):
            value = _cadences(f"ingest.{name}", value)
        elif isinstance(default, tuple):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"ingest.{name}: expected a list of strings")
            value = tuple(value)
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"ingest.{name}: expected a number")
        elif name in WINDOWS:
            positive(f"ingest.{name}", value, WINDOWS[name])
        elif value < 0 or (name == "workers" and not 1 <= value <= 64):
            raise ConfigError(f"ingest.{name}: out of range")
        elif name == "api_reserve" and value >= 1:
            raise ConfigError("ingest.api_reserve: a share of the daily limit, below 1")
        values[name] = int(value) if isinstance(default, int) else value
    return IngestConfig(**values)


def _cadences(key: str, value: Any) -> dict[str, float]:
    """`cadence_hours = { oauth_token = 168 }`: each a number of hours above 0."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a table of source = hours")
    for source, hours in value.items():
        if isinstance(hours, bool) or not isinstance(hours, int | float):
            raise ConfigError(f"{key}.{source}: expected a number of hours")
        positive(f"{key}.{source}", hours, "168")
    return {str(source): float(hours) for source, hours in value.items()}


# Detector settings that are numbers but not a threshold or a window: an isolation-forest
# score (negative by design) and a random seed. Every other number must be above 0.
NOT_THRESHOLDS = {"max_score", "random_state"}


def detectors(body: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`[detectors.<id>]` tables as plain dicts, every threshold and window above 0."""
    parsed = {}
    for detector_id, settings in body.items():
        key = f"detectors.{detector_id}"
        parsed[detector_id] = dict(table(key, settings))
        _check_numbers(key, parsed[detector_id])
    return parsed


def _check_numbers(key: str, settings: Mapping[str, Any]) -> None:
    for name, value in settings.items():
        if isinstance(value, Mapping):  # e.g. anomaly_score.min_excess: one threshold a feature
            _check_numbers(f"{key}.{name}", value)
        elif (
            name not in NOT_THRESHOLDS
            and not isinstance(value, bool)
            and isinstance(value, int | float)
        ):
            positive(f"{key}.{name}", value)
