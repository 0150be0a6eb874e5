"""The demo and the scenario world observe exactly what tests/golden/baseline.json recorded:
the simulated fleet (`sandbox/`) may be reorganised, never changed in what it shows."""

from __future__ import annotations

import json

import pytest

from tests import golden
from tests.conftest import DEMO_AS_OF

BASELINE = json.loads(golden.BASELINE.read_text(encoding="utf-8"))


def test_the_baseline_is_for_the_pinned_reference_date():
    assert BASELINE["as_of"] == DEMO_AS_OF


def test_the_demo_raises_the_baseline_alerts_and_incidents(demo_build):
    _, store, _ = demo_build
    now = golden.demo_snapshot(store)
    assert now["alerts"] == BASELINE["demo"]["alerts"]
    assert now["incidents"] == BASELINE["demo"]["incidents"]


@pytest.mark.slow
@pytest.mark.parametrize("order", ["delivered", "reversed"])
def test_the_scenario_world_gives_the_baseline_verdicts(order, tmp_path):
    assert golden.scenario_snapshot(tmp_path, order) == BASELINE["scenario"][order]
