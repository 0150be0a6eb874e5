"""The detect runner: stable alert ids, triage kept, incremental scans, failures isolated."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta

from dashboard import queries
from detect import registry, runner
from detect.detector import Detector, Example
from detect.testing import config, insert_events, refresh

T0 = datetime(2026, 11, 2, 0, 0)
ONLY = ["off_allowlist_ip"]  # the runner is under test here, not the catalog


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def alert_rows(con):
    return con.execute(
        "SELECT alert_id, event_count, severity, first_seen_at, last_seen_at FROM alerts ORDER BY 1"
    ).fetchall()


def test_alert_ids_and_triage_survive_re_detection(store):
    clock = Clock()
    insert_events(
        store,
        [
            refresh("2026-11-01T09:00:00", "208.68.36.90"),
            refresh("2026-11-01T09:30:00", "208.68.36.90"),
        ],
        loaded_at=T0,
    )
    runner.run(store, config(), run_id="d1", now=clock, detector_ids=ONLY)
    [(alert_id, count, severity, *_)] = alert_rows(store)
    assert (count, severity) == (2, "high")
    queries.set_triage(store, alert_id, "acknowledged", note="looking", analyst="ana", now=clock())

    for run_id in ("d2", "d3"):
        runner.run(store, config(), run_id=run_id, now=clock, rescan_all=True, detector_ids=ONLY)
    assert alert_rows(store) == [(alert_id, 2, "high", *alert_rows(store)[0][3:])]
    assert store.execute("SELECT status, note FROM triage").fetchall() == [
        ("acknowledged", "looking")
    ]

    insert_events(store, [refresh("2026-11-01T23:59:59", "208.68.36.90")], loaded_at=clock())
    runner.run(store, config(), run_id="d4", now=clock, detector_ids=ONLY)
    [(same_id, count, _, first, last)] = alert_rows(store)
    assert same_id == alert_id and count == 3
    assert (first, last) == (datetime(2026, 11, 1, 9), datetime(2026, 11, 1, 23, 59, 59))
    assert store.execute("SELECT status FROM triage").fetchone() == ("acknowledged",)


def test_next_day_is_a_new_alert(store):
    clock = Clock()
    insert_events(
        store,
        [
            refresh("2026-11-01T09:00:00", "208.68.36.90"),
            refresh("2026-11-02T09:00:00", "208.68.36.90"),
        ],
        loaded_at=T0,
    )
    runner.run(store, config(), run_id="d1", now=clock, detector_ids=ONLY)
    assert len(alert_rows(store)) == 2


def test_default_scan_covers_only_what_changed_since_the_last_run(store):
    clock = Clock()
    insert_events(store, [refresh("2026-11-01T09:00:00", "208.68.36.90")], loaded_at=T0)
    first = runner.run(store, config(), run_id="d1", now=clock, detector_ids=ONLY)
    again = runner.run(store, config(), run_id="d2", now=clock, detector_ids=ONLY)
    assert first.detectors[0].findings == 1 and again.detectors[0].findings == 0
    # a late row (hourly ELF arrive hours late) for an old day is still scanned
    insert_events(store, [refresh("2026-10-30T09:00:00", "198.51.100.99")], loaded_at=clock())
    late = runner.run(store, config(), run_id="d3", now=clock, detector_ids=ONLY)
    assert late.detectors[0].findings == 1 and len(alert_rows(store)) == 2


def test_since_limits_the_scan_by_event_time(store):
    insert_events(
        store,
        [
            refresh("2026-10-01T09:00:00", "208.68.36.90"),
            refresh("2026-11-01T09:00:00", "208.68.36.91"),
        ],
        loaded_at=T0,
    )
    summary = runner.run(
        store, config(), run_id="d1", now=Clock(), since=datetime(2026, 10, 15), detector_ids=ONLY
    )
    assert summary.detectors[0].findings == 1


def _boom(ctx):
    raise RuntimeError("threshold table missing")


BROKEN = Detector(
    id="broken",
    title="Broken",
    severity="low",
    description="Blind spots: all.",
    find=_boom,
    examples=[Example("x", [], 0)],
    runbook="1. Fix it.",
)


def test_a_failing_detector_is_recorded_and_the_others_still_run(store, monkeypatch):
    real = registry.by_id()
    monkeypatch.setattr(registry, "by_id", lambda: {"broken": BROKEN, **real})
    monkeypatch.setattr(registry, "check_config", lambda config: None)
    insert_events(store, [refresh("2026-11-01T09:00:00", "208.68.36.90")], loaded_at=T0)
    summary = runner.run(store, config(), run_id="d1", now=Clock(), detector_ids=["broken", *ONLY])
    assert summary.failed
    statuses = dict(store.execute("SELECT unit_id, status FROM runs").fetchall())
    assert statuses == {
        "app_attribution": "ok",
        "broken": "failed",
        "incidents": "ok",
        "network_owners": "ok",
        "off_allowlist_ip": "ok",
    }
    error = store.execute("SELECT error FROM runs WHERE unit_id = 'broken'").fetchone()[0]
    assert error == "detector broken: RuntimeError: threshold table missing"
    assert len(alert_rows(store)) == 1


def test_slow_imports_load_in_the_background_and_a_missing_one_is_the_detectors_own_failure(
    store, monkeypatch, tmp_path
):
    (tmp_path / "slow_probe_module.py").write_text(
        "import threading\nLOADED_IN = threading.current_thread().name\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    loaded_in = []

    def find(ctx):
        import slow_probe_module

        loaded_in.append(slow_probe_module.LOADED_IN)
        return []

    def find_missing(ctx):
        import no_such_module_anywhere  # noqa: F401

        return []

    common = dict(severity="low", description="Blind spots: all.", runbook="1. Fix it.",
                  examples=[Example("x", [], 0)])  # fmt: skip
    slow = Detector(id="slow", title="Slow", find=find, slow_imports=("slow_probe_module",),
                    **common)  # fmt: skip
    missing = Detector(id="missing", title="Missing", find=find_missing,
                       slow_imports=("no_such_module_anywhere",), **common)  # fmt: skip
    real = registry.by_id()
    monkeypatch.setattr(registry, "by_id", lambda: {"slow": slow, "missing": missing, **real})
    monkeypatch.setattr(registry, "check_config", lambda config: None)
    monkeypatch.delitem(sys.modules, "slow_probe_module", raising=False)
    summary = runner.run(store, config(), run_id="d1", now=Clock(),
                         detector_ids=[*ONLY, "slow", "missing"])  # fmt: skip
    assert loaded_in == ["detect-preload"]
    statuses = dict(store.execute("SELECT unit_id, status FROM runs").fetchall())
    assert (statuses["slow"], statuses["missing"], statuses["off_allowlist_ip"]) == (
        "ok", "failed", "ok")  # fmt: skip
    error = store.execute("SELECT error FROM runs WHERE unit_id = 'missing'").fetchone()[0]
    assert "No module named 'no_such_module_anywhere'" in error and summary.failed
