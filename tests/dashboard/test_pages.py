"""Every dashboard page under Streamlit's AppTest, on the demo store: renders without
exceptions, triage persists into the audit trail, filters live in the URL, hostile names stay
text. Assertions are on structure and on rows the tests plant, not on the demo's counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import queries
from dashboard.web import safe_text
from ingest import db

from .conftest import HOSTILE_APP

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "web" / "app.py")
PAGES = {
    "overview.py": "Overview",
    "queue.py": "Queue",
    "search.py": "Search",
    "apps.py": "Apps & allowlists",
    "controls.py": "Controls readiness",
    "tokens.py": "Refresh tokens",
    "pipeline.py": "Pipeline",
    "incident.py": "Incident",
    "alert.py": "Alert",
}


def start(monkeypatch, store: Path) -> AppTest:
    monkeypatch.setenv("TOKENSENTRY_DB", str(store))
    monkeypatch.setenv("TOKENSENTRY_CONFIG", str(store.parent / "tokensentry.toml"))
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def open_page(app: AppTest, page: str, **params: str) -> AppTest:
    app.query_params.clear()
    app.query_params.update(params)
    app.switch_page(f"app_pages/{page}").run()
    assert not app.exception, [(e.message, e.stack_trace[-3:]) for e in app.exception]
    return app


def first_ids(store: Path) -> tuple[str, str]:
    with db.connect(store, read_only=True) as con:
        incident = con.execute("SELECT min(incident_id) FROM incidents").fetchone()[0]
        alert = con.execute("SELECT min(alert_id) FROM alerts").fetchone()[0]
    assert incident and alert, "the demo store should hold alerts and incidents"
    return incident, alert


def all_text(app: AppTest) -> str:
    return "\n".join(
        [str(e.value) for e in app.text]
        + [e.value.to_string() for e in app.table]
        + [str(m.value) for m in app.metric]
    )


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_on_the_demo_store(monkeypatch, demo_db, page):
    incident, alert = first_ids(demo_db)
    params = {"incident.py": {"id": incident}, "alert.py": {"id": alert}}.get(page, {})
    if page == "search.py":
        params = {"q": "203.0.113.5"}
    app = open_page(start(monkeypatch, demo_db), page, **params)
    assert app.title[0].value.startswith(PAGES[page])
    from detect.geo import ATTRIBUTION

    assert ATTRIBUTION in [caption.value for caption in app.caption]  # the footer, every page


def test_overview_shows_freshness_and_charts(monkeypatch, demo_db):
    app = start(monkeypatch, demo_db)
    assert len(app.get("vega_lite_chart")) >= 3
    freshness = app.table[0].value
    assert {"state", "org", "source", "last_success", "age", "cadence"} <= set(freshness.columns)
    assert "login_history" in set(freshness["source"])


def test_unknown_ids_say_so(monkeypatch, demo_db):
    app = open_page(start(monkeypatch, demo_db), "incident.py", id="no-such-incident")
    assert "No incident with this id" in app.info[0].value
    app = open_page(app, "alert.py", id="no-such-alert")
    assert "No alert with this id" in app.info[0].value


def test_triage_on_the_incident_page_persists_with_its_audit_trail(monkeypatch, store_copy, plant):
    incident = plant(store_copy, alert_id="planted0000000000001", app="Acme Sync")
    app = open_page(start(monkeypatch, store_copy), "incident.py", id=incident)
    assert {m.label: m.value for m in app.metric}["status"] == "new"
    app.text_input(key="ts_analyst").set_value("Ada Analyst")
    app.selectbox(key="incident_triage_status").set_value("false_positive")
    app.text_area(key="incident_triage_note").set_value("partner's new NAT gateway")
    app.button(key="FormSubmitter:incident_triage-Apply to 1 incident").click().run()
    assert not app.exception
    assert "Set to false_positive." in [s.value for s in app.success]
    assert {m.label: m.value for m in app.metric}["status"] == "false_positive"
    trail = app.table[-1].value
    assert list(trail["analyst"].unique()) == ["Ada Analyst"]
    assert set(trail["to_status"]) == {"false_positive"}
    assert set(trail["note"]) == {"partner's new NAT gateway"}

    # A fresh session (a reload) reads it back from the store.
    again = open_page(start(monkeypatch, store_copy), "incident.py", id=incident)
    assert {m.label: m.value for m in again.metric}["status"] == "false_positive"
    with db.connect(store_copy, read_only=True) as con:
        assert con.execute(
            "SELECT status, analyst FROM triage WHERE alert_id = 'planted0000000000001'"
        ).fetchone() == ("false_positive", "Ada Analyst")


def test_triage_without_a_name_is_refused(monkeypatch, store_copy, plant):
    incident = plant(store_copy, alert_id="planted0000000000002", app="Acme Sync")
    app = open_page(start(monkeypatch, store_copy), "incident.py", id=incident)
    app.button(key="FormSubmitter:incident_triage-Apply to 1 incident").click().run()
    assert "Fill in your name" in app.error[0].value
    with db.connect(store_copy, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0


def test_hostile_app_name_is_shown_as_text_never_markup(monkeypatch, store_copy, plant):
    alert_id = "planted0000000000003"
    incident = plant(store_copy, alert_id=alert_id, app=HOSTILE_APP)
    app = start(monkeypatch, store_copy)
    for page, params in (
        ("incident.py", {"id": incident}),
        ("alert.py", {"id": alert_id}),
        ("queue.py", {}),
        ("apps.py", {}),
        ("search.py", {"q": "198.51.100.66"}),
    ):
        open_page(app, page, **params)
        markdown = [
            str(e.value)
            for kind in ("markdown", "caption", "header", "subheader", "title", "info", "warning")
            for e in app.get(kind)
        ] + [e.label for e in app.expander]
        for value in markdown:
            assert "<img" not in value and "](http://evil)" not in value, (page, value)
        if page != "queue.py":  # the queue shows it in the data grid (text cells) only
            assert HOSTILE_APP in all_text(app), page


def test_sidebar_filters_come_from_and_go_to_the_url(monkeypatch, demo_db):
    with db.connect(demo_db, read_only=True) as con:
        orgs = [
            r[0] for r in con.execute("SELECT DISTINCT org_id FROM events ORDER BY 1").fetchall()
        ]
        newest = con.execute("SELECT max(occurred_at) FROM events").fetchone()[0]
    monkeypatch.setenv("TOKENSENTRY_DB", str(demo_db))
    monkeypatch.setenv("TOKENSENTRY_CONFIG", str(demo_db.parent / "tokensentry.toml"))
    app = AppTest.from_file(APP, default_timeout=60)
    app.query_params["org"] = orgs[0]
    app.query_params["from"] = "2026-01-01"
    app.query_params["to"] = "2026-01-31"
    app.run()
    assert app.multiselect(key="ts_orgs").value == [orgs[0]]
    assert [str(d) for d in app.date_input(key="ts_window").value] == ["2026-01-01", "2026-01-31"]

    app.multiselect(key="ts_apps").set_value(["Acme Sync"]).run()
    assert app.query_params["app"] == "Acme Sync"
    assert app.query_params["org"] == orgs[0]

    # Without a window in the URL, the default one ends at the newest event, not today.
    fresh = AppTest.from_file(APP, default_timeout=60)
    fresh.run()
    assert fresh.date_input(key="ts_window").value[-1] == newest.date()
    assert "from" not in fresh.query_params


def test_page_retries_while_the_pipeline_holds_the_store(monkeypatch, store_copy):
    from .writer import hold_write_lock

    with hold_write_lock(store_copy, seconds=4):
        app = start(monkeypatch, store_copy)  # waits, says so, and renders once released
    assert app.title[0].value == "Overview"
    assert app.session_state["ts_busy_retries"] >= 1
    assert "The pipeline is writing to the store, retrying…" not in [w.value for w in app.warning]


PREVIEW = "FormSubmitter:apps_egress-Preview what it would silence"
THIEF = "208.68.36.90"  # the demo's DigitalOcean VPS, outside Acme Sync's allowlist


def test_known_egress_recorded_from_the_apps_page(monkeypatch, store_copy):
    """Two steps: the preview names what it would silence, only "Record" writes."""
    app = open_page(start(monkeypatch, store_copy), "apps.py")
    app.text_input(key="ts_analyst").set_value("Ada Analyst")
    form_select = next(s for s in app.selectbox if s.label.startswith("Address seen"))
    outside = form_select.options
    assert outside, "the demo's attacker addresses are outside Acme Sync's allowlist"
    form_select.set_value(outside[0])
    app.button(key=PREVIEW).click().run()
    assert not app.exception
    with db.connect(store_copy, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM known_egress").fetchone() == (0,)  # preview only
        expected = queries.would_silence(con, outside[0]).describe()  # the CLI's preview
    assert expected.startswith("would silence") and expected in all_text(app)
    app.button(key="apps_egress_record").click().run()
    assert not app.exception
    with db.connect(store_copy, read_only=True) as con:
        assert con.execute("SELECT network, added_by FROM known_egress").fetchall() == [
            (outside[0], "Ada Analyst")
        ]
    assert any("Recorded" in s.value for s in app.success)


def test_queue_triages_several_selected_incidents_at_once(monkeypatch, store_copy, plant):
    first = plant(store_copy, alert_id="plantedqueue00000001", app="Acme Sync", ip="198.51.100.71")
    second = plant(store_copy, alert_id="plantedqueue00000002", app="Acme Sync", ip="198.51.100.72")
    assert first != second
    app = open_page(start(monkeypatch, store_copy), "queue.py")
    app.text_input(key="queue_text").set_value("plantedqueue").run()
    assert sorted(app.dataframe[0].value["link"]) == [
        f"/incident?id={first}",
        f"/incident?id={second}",
    ]
    app.session_state["queue_grid_incident"] = {
        "selection": {"rows": [0, 1], "columns": [], "cells": []}
    }
    app.text_input(key="ts_analyst").set_value("Ada Analyst").run()
    app.selectbox(key="queue_triage_status").set_value("acknowledged")
    app.text_area(key="queue_triage_note").set_value("same partner outage")
    app.button(key="FormSubmitter:queue_triage-Apply to 2 incidents").click().run()
    assert not app.exception
    with db.connect(store_copy, read_only=True) as con:
        assert con.execute(
            "SELECT target_id, to_status, note FROM audit_log WHERE target_kind = 'incident' "
            "ORDER BY target_id"
        ).fetchall() == [
            (first, "acknowledged", "same partner outage"),
            (second, "acknowledged", "same partner outage"),
        ]
    statuses = set(app.dataframe[0].value["status"])
    assert statuses == {"acknowledged"}


def test_missing_store_explains_what_to_run(monkeypatch, tmp_path):
    app = start(monkeypatch, tmp_path / "absent.duckdb")
    assert "run `tokensentry import` or `tokensentry demo` first" in app.info[0].value


def test_broken_config_is_reported_not_raised(monkeypatch, demo_db, tmp_path):
    broken = tmp_path / "tokensentry.toml"
    broken.write_text("[apps.x]\nallowlist = ['not an ip']\n")
    monkeypatch.setenv("TOKENSENTRY_DB", str(demo_db))
    monkeypatch.setenv("TOKENSENTRY_CONFIG", str(broken))
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception
    assert "apps.x.allowlist" in app.error[0].value


def test_impossible_travel_draws_the_jump_and_lists_places_as_text(monkeypatch, store_copy, plant):
    alert_id = "plantedtravel0000001"
    plant(
        store_copy, alert_id=alert_id, app="Acme Sync", detector="impossible_travel",
        places=[("192.0.2.10", "Boston", "US", 42.36, -71.06),
                ("198.51.100.10", "Singapore", "SG", 1.29, 103.85)],
    )  # fmt: skip
    app = open_page(start(monkeypatch, store_copy), "alert.py", id=alert_id)
    (chart,) = [c for c in app.get("vega_lite_chart") if "equalEarth" in c.proto.spec]
    assert '"rule"' in chart.proto.spec  # the jump, drawn over the bundled coastlines
    text = all_text(app)
    assert "Boston" in text and "Singapore" in text
    jumps = next(t.value for t in app.table if "from_ip" in t.value.columns)
    assert jumps[["from_ip", "to_ip"]].values.tolist() == [["192.0.2.10", "198.51.100.10"]]


def test_refresh_token_reuse_shows_the_token_chain(monkeypatch, store_copy, plant):
    alert_id = "plantedreuse00000001"
    plant(
        store_copy, alert_id=alert_id, app="Acme Sync", detector="refresh_token_reuse",
        token_fps=[("worker-1", "fp-A", "fp-B", True), ("worker-2", "fp-A", None, False)],
    )  # fmt: skip
    app = open_page(start(monkeypatch, store_copy), "alert.py", id=alert_id)
    chain = next(t.value for t in app.table if "presented" in t.value.columns)
    assert chain[["worker", "presented", "returned", "outcome"]].values.tolist() == [
        ["worker-1", "fp-A", "fp-B", "accepted"],
        ["worker-2", "fp-A", "(none)", "refused"],
    ]


@pytest.mark.parametrize("page", [p for p in PAGES if p not in ("incident.py", "alert.py")])
def test_every_page_renders_on_an_empty_store(monkeypatch, tmp_path, page):
    store = tmp_path / "empty.duckdb"
    with db.connect(store):
        pass  # schema only: a fresh install before the first import
    app = open_page(start(monkeypatch, store), page, **({"q": "x"} if page == "search.py" else {}))
    assert app.title[0].value.startswith(PAGES[page])


def test_known_egress_form_refuses_what_the_cli_refuses_unless_overridden(monkeypatch, store_copy):
    """400 days: the CLI's refusal (same function), "Record" disabled; with the override box
    ticked it records, and the audit log names what was overridden. (AppTest cannot type a new
    option into the address box, so the width rule is left to tests/dashboard/test_egress_safety.)"""
    app = open_page(start(monkeypatch, store_copy), "apps.py")
    app.text_input(key="ts_analyst").set_value("Ada Analyst")
    next(s for s in app.selectbox if s.label.startswith("Address seen")).set_value(THIEF)
    app.selectbox(key="apps_egress_app").set_value("Acme Sync")
    app.number_input[0].set_value(400)
    app.button(key=PREVIEW).click().run()
    with db.connect(store_copy, read_only=True) as con:
        expected = queries.refusals(
            con, THIEF, app_name="Acme Sync", days=400, configured_apps=["Acme Sync"]
        )
        silenced = queries.would_silence(con, THIEF, app_name="Acme Sync")
    assert [r.rule for r in expected] == ["days"]
    assert len(app.error) == 1 and expected[0].reason in app.error[0].value
    assert app.button(key="apps_egress_record").disabled
    assert silenced.total and silenced.describe() in all_text(app)
    links = " ".join(e.proto.label for e in app.get("page_link"))
    assert all(alert_id in links for alert_id in silenced.alert_ids[:20])
    app.checkbox(key="apps_egress_force").check()
    app.button(key=PREVIEW).click().run()
    assert not app.button(key="apps_egress_record").disabled
    app.button(key="apps_egress_record").click().run()
    assert not app.exception
    with db.connect(store_copy, read_only=True) as con:
        [(egress_id,)] = con.execute("SELECT egress_id FROM known_egress").fetchall()
        [(note, via)] = con.execute(
            "SELECT note, via FROM audit_log WHERE target_kind = 'egress' AND target_id = ?",
            [egress_id],
        ).fetchall()
    assert via == "dashboard" and "days: an expiry of 400 days" in note


def test_incident_events_are_one_click_away_and_drawn_once_opened(monkeypatch, store_copy, plant):
    places = [("192.0.2.10", "Boston", "US", 42.36, -71.06),
              ("198.51.100.10", "Singapore", "SG", 1.29, 103.85)]  # fmt: skip
    alert_id = "plantedevents0000001"
    incident = plant(store_copy, alert_id=alert_id, app=HOSTILE_APP, places=places)
    app = open_page(start(monkeypatch, store_copy), "incident.py", id=incident)

    def timeline_charts() -> list:
        return [c for c in app.get("vega_lite_chart") if "when (UTC)" in c.proto.spec]

    def event_grids() -> list:
        return [d.value for d in app.dataframe if "user_agent" in d.value.columns]

    assert "Events (2)" in [s.value for s in app.subheader]
    assert "From 2 address(es), 0 failed; the first at " in all_text(app)
    assert not timeline_charts() and not event_grids()  # closed: nothing sent to draw
    app.session_state["events"] = True  # the analyst opens it
    app.run()
    assert not app.exception
    assert len(timeline_charts()) == 1
    (grid,) = event_grids()
    assert sorted(grid["source_ip"]) == ["192.0.2.10", "198.51.100.10"]
    assert set(grid["user_agent"]) == {safe_text.plain(HOSTILE_APP)}  # text cells, as written

    # The alert page draws its events without a click: they are the alert's own evidence.
    open_page(app, "alert.py", id=alert_id)
    assert len(timeline_charts()) == 1 and len(event_grids()) == 1
