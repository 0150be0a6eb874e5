"""Invariants every detector must keep (elastic's test_all_rules, in miniature)."""

from __future__ import annotations

from pathlib import Path

import pytest

from detect import registry
from detect.detector import SEVERITIES
from ingest.config import Config
from ingest.errors import ConfigError

DETECTORS = registry.all_detectors()
README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: d.id)
def test_detector_is_self_describing(detector):
    module_file = Path(registry.detectors_package.__path__[0]) / f"{detector.id}.py"
    assert module_file.exists(), "id must equal the module name"
    assert detector.severity in SEVERITIES
    assert "Blind spots:" in detector.description
    assert detector.runbook.lstrip().startswith("1.")
    assert any(e.expect > 0 for e in detector.examples), "needs an example that fires"
    assert any(e.expect == 0 for e in detector.examples), "needs an example that must not fire"
    assert detector.id in README.read_text(), "README's detector table must list it"


def test_ids_are_unique():
    ids = [d.id for d in DETECTORS]
    assert len(ids) == len(set(ids))


def test_unknown_detector_section_names_its_key():
    with pytest.raises(ConfigError, match=r"^detectors\.no_such_thing: no such detector"):
        registry.check_config(Config(path=None, detectors={"no_such_thing": {}}))


def test_unknown_setting_names_its_key():
    bad = Config(path=None, detectors={"off_allowlist_ip": {"include_failure": False}})
    with pytest.raises(
        ConfigError, match=r"^detectors\.off_allowlist_ip\.include_failure: unknown"
    ):
        registry.check_config(bad)


def test_wrong_setting_type_names_its_key():
    bad = Config(path=None, detectors={"off_allowlist_ip": {"include_failures": "no"}})
    with pytest.raises(ConfigError, match=r"include_failures: expected bool"):
        registry.check_config(bad)
