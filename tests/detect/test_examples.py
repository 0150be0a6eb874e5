"""Every example of every detector, run against a real in-memory store."""

from __future__ import annotations

import pytest

from detect import registry, runner
from detect.detector import Context
from detect.testing import config, insert_events
from ingest import db

from ..conftest import FIXED_NOW

CASES = [
    pytest.param(detector, example, id=f"{detector.id}: {example.name}")
    for detector in registry.all_detectors()
    for example in detector.examples
]


@pytest.mark.parametrize(("detector", "example"), CASES)
def test_example(detector, example):
    con = db.memory()
    insert_events(con, example.events, loaded_at=FIXED_NOW)  # snapshots are read "now"
    settings = registry.settings_for(detector, example.settings)
    if detector.reads_alerts:  # a correlation: the detectors it reads run first
        upstream = [d.id for d in registry.all_detectors() if not d.reads_alerts]
        runner.run(con, config(example.apps or None), run_id="upstream", now=lambda: FIXED_NOW,
                   detector_ids=upstream)  # fmt: skip
    ctx = Context(con=con, config=config(example.apps or None), settings=settings, now=FIXED_NOW)
    findings = detector.find(ctx)
    assert len(findings) == example.expect, [f.summary for f in findings]
    known_ids = {row[0] for row in con.execute("SELECT event_id FROM events").fetchall()}
    for finding in findings:
        assert finding.event_ids and set(finding.event_ids) <= known_ids
        assert finding.summary.endswith(".")
        if example.severity:
            assert (finding.severity or detector.severity) == example.severity
