"""The alert page under Streamlit's AppTest: renders the demo's alerts and reacts to filters."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "web" / "app.py")


def run_app(monkeypatch, db_path: Path) -> AppTest:
    monkeypatch.setenv("TOKENSENTRY_DB", str(db_path))
    app = AppTest.from_file(APP, default_timeout=30)
    app.run()
    assert not app.exception
    return app


def test_lists_the_demo_alerts(monkeypatch, demo_db):
    app = run_app(monkeypatch, demo_db)
    table = app.table[0].value
    assert len(table) == 9
    assert set(table["severity"]) == {"critical", "high", "medium"}
    assert "208.68.36.90" in " ".join(table["ips"])
    metrics = {m.label: m.value for m in app.metric}
    assert (metrics["critical"], metrics["high"], metrics["medium"]) == ("1", "3", "5")


def test_footer_credits_maxmind(monkeypatch, demo_db):
    from detect.geo import ATTRIBUTION

    app = run_app(monkeypatch, demo_db)
    assert ATTRIBUTION in [caption.value for caption in app.caption]


def test_severity_filter_narrows_the_list(monkeypatch, demo_db):
    app = run_app(monkeypatch, demo_db)
    app.multiselect(key="alerts_severity").set_value(["medium"]).run()
    assert not app.exception
    assert set(app.table[0].value["severity"]) == {"medium"}


def test_missing_store_explains_what_to_run(monkeypatch, tmp_path):
    app = run_app(monkeypatch, tmp_path / "absent.duckdb")
    assert "run `tokensentry import` or `tokensentry demo` first" in app.info[0].value
