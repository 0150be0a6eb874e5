"""Find every detector by walking `detect.detectors`; resolve its settings from the config.

Pure and re-callable (no import-time registration), so Streamlit reruns and test reloads see
the same catalog. Unknown `[detectors.<id>]` sections or keys fail loudly: a typo in a
threshold must not silently leave the default in force.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from typing import Any

from ingest.config import Config
from ingest.errors import ConfigError

from . import detectors as detectors_package
from .detector import Detector


def all_detectors() -> list[Detector]:
    found = []
    for module_info in pkgutil.iter_modules(detectors_package.__path__):
        module = importlib.import_module(f"{detectors_package.__name__}.{module_info.name}")
        detector = getattr(module, "DETECTOR", None)
        if not isinstance(detector, Detector):
            raise TypeError(f"detect/detectors/{module_info.name}.py defines no DETECTOR")
        if detector.id != module_info.name:
            raise TypeError(
                f"detector id {detector.id!r} differs from its module {module_info.name!r}"
            )
        found.append(detector)
    return sorted(found, key=lambda d: d.id)


def by_id() -> dict[str, Detector]:
    return {detector.id: detector for detector in all_detectors()}


def check_config(config: Config) -> None:
    known = by_id()
    for detector_id, overrides in config.detectors.items():
        if detector_id not in known:
            raise ConfigError(
                f"detectors.{detector_id}: no such detector (known: {', '.join(sorted(known))})"
            )
        settings_for(known[detector_id], overrides)


def settings_for(detector: Detector, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    resolved = dict(detector.settings)
    for key, value in (overrides or {}).items():
        if key not in detector.settings:
            known = ", ".join(sorted(detector.settings)) or "none"
            raise ConfigError(f"detectors.{detector.id}.{key}: unknown setting (known: {known})")
        default = detector.settings[key]
        if isinstance(default, bool) != isinstance(value, bool) or not isinstance(
            value, type(default) if not isinstance(default, float) else (int, float)
        ):
            raise ConfigError(
                f"detectors.{detector.id}.{key}: expected {type(default).__name__}, got {value!r}"
            )
        resolved[key] = value
    return resolved
