"""Controls readiness: each verdict with its counter-example or its positive evidence."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest

from dashboard import queries
from detect.testing import (
    ALLOWED_IP,
    APP,
    ORG,
    OTHER_ORG,
    config,
    insert_events,
    jwt_login,
    partner_call,
    refresh,
)
from ingest import runs

WINDOW = (datetime(2026, 5, 1), datetime(2026, 5, 31))
NOW = datetime(2026, 6, 1, 12)
OUTSIDE = "208.68.36.90"
LOADED = datetime(2026, 4, 1)  # events loaded long ago: monitoring needs its own evidence


def _put(store, *events):
    insert_events(store, events, loaded_at=LOADED)


def _verdict(store, control: str, *, org: str = ORG, apps=None) -> tuple[str, str, list]:
    frame = queries.controls_readiness(store, config(apps), WINDOW, now=NOW)
    row = frame[(frame["org_id"] == org) & (frame["control"] == control)].iloc[0]
    return row["verdict"], row["reason"], row["evidence"]


def _code(at: str, pkce: bool | None, **fields):
    return partner_call(at, ALLOWED_IP, grant="authorization_code", pkce=pkce, **fields)


def _rotate(at: str, fp: str, new: str | None, **fields):
    return partner_call(at, ALLOWED_IP, token_fp=fp, new_token_fp=new, **fields)


def test_pkce_fails_on_a_grant_without_verifier(store):
    _put(store, _code("2026-05-02T09:00:00", True), _code("2026-05-03T09:00:00", False))
    verdict, reason, evidence = _verdict(store, "pkce")
    assert verdict == "fail" and reason.startswith("1 authorization-code")
    assert [row["detail"] for row in evidence] == ["no code verifier"]


def test_pkce_passes_when_every_grant_sent_a_verifier(store):
    _put(store, _code("2026-05-02T09:00:00", True), _code("2026-05-03T09:00:00", True))
    verdict, _, evidence = _verdict(store, "pkce")
    assert verdict == "pass" and len(evidence) == 2


def test_pkce_without_the_partner_log_is_no_evidence(store):
    _put(store, refresh("2026-05-02T09:00:00", ALLOWED_IP))
    assert _verdict(store, "pkce")[0] == "no evidence"


@pytest.mark.parametrize(
    ("events", "detail"),
    [
        ([_rotate("2026-05-02T09:00:00", "g1", None)], "no new refresh token returned"),
        ([_rotate("2026-05-02T09:00:00", "g1", "g1")], "the same refresh token returned"),
        (
            [
                _rotate("2026-05-02T09:00:00", "g1", "g2"),
                _rotate("2026-05-02T10:00:00", "g1", "g3"),
            ],
            "presentation 2 of one refresh token succeeded",
        ),
    ],
)
def test_rotation_fails_on_each_counter_example(store, events, detail):
    _put(store, *events)
    verdict, _, evidence = _verdict(store, "rotation")
    assert verdict == "fail" and detail in [row["detail"] for row in evidence]


def test_rotation_passes_on_a_clean_chain_and_ignores_refused_reuse(store):
    _put(
        store,
        _rotate("2026-05-02T09:00:00", "g1", "g2"),
        _rotate("2026-05-02T10:00:00", "g2", "g3"),
        _rotate("2026-05-02T11:00:00", "g1", None, is_success=False, status="invalid_grant"),
    )
    verdict, reason, _ = _verdict(store, "rotation")
    assert verdict == "pass" and "(2)" in reason


def test_rotation_from_salesforce_logs_alone_is_no_evidence(store):
    _put(store, refresh("2026-05-02T09:00:00", ALLOWED_IP))
    assert _verdict(store, "rotation")[0] == "no evidence"


def test_allowlist_fails_on_a_successful_refresh_from_outside(store):
    _put(
        store,
        refresh("2026-05-02T09:00:00", OUTSIDE, is_success=False, status="Failed: IP restricted"),
        refresh("2026-05-03T09:00:00", OUTSIDE),
    )
    verdict, _, evidence = _verdict(store, "allowlist")
    assert verdict == "fail" and [row["source_ip"] for row in evidence] == [OUTSIDE]


def test_allowlist_passes_when_an_attempt_from_outside_was_blocked(store):
    _put(
        store,
        refresh("2026-05-02T09:00:00", ALLOWED_IP),
        refresh("2026-05-02T09:00:00", OUTSIDE, is_success=False, status="Failed: IP restricted"),
    )
    verdict, _, evidence = _verdict(store, "allowlist")
    assert verdict == "pass" and evidence[0]["status"] == "Failed: IP restricted"


def test_allowlist_silence_or_no_configured_allowlist_is_no_evidence(store):
    _put(store, refresh("2026-05-02T09:00:00", ALLOWED_IP))
    assert _verdict(store, "allowlist")[0] == "no evidence"
    store.execute("DELETE FROM events")
    _put(store, refresh("2026-05-02T09:00:00", OUTSIDE))
    from ingest.config import AppConfig, Config

    bare = Config(path=None, apps={APP: AppConfig(name=APP, consumer_key=None, allowlist=None)})
    frame = queries.controls_readiness(store, bare, WINDOW, now=NOW)
    row = frame[(frame["control"] == "allowlist") & (frame["scope"] == "org")].iloc[0]
    assert row["verdict"] == "no evidence" and "no allowlist" in row["reason"]


def test_idle_timeout_fails_when_a_token_is_used_after_30_days(store):
    # The previous use is before the window: the look-back finds it.
    _put(
        store,
        refresh("2026-04-20T09:00:00", ALLOWED_IP),
        refresh("2026-05-25T09:00:00", ALLOWED_IP),
    )
    verdict, _, evidence = _verdict(store, "idle_timeout")
    assert verdict == "fail" and evidence[0]["detail"] == "used after 35 days idle"


def test_idle_timeout_passes_when_an_idle_token_was_refused(store):
    _put(
        store,
        refresh("2026-03-01T09:00:00", ALLOWED_IP),  # far before the look-back
        refresh(
            "2026-05-10T09:00:00", ALLOWED_IP, is_success=False, status="Failed: Invalid Token"
        ),
        refresh("2026-05-10T09:10:00", ALLOWED_IP, grant_type="authorization_code"),
        refresh("2026-05-11T09:00:00", ALLOWED_IP),  # a fresh authorization: not idle
    )
    verdict, _, evidence = _verdict(store, "idle_timeout")
    assert verdict == "pass" and evidence[0]["detail"] == "refused after 70 days idle"


def test_idle_timeout_regular_use_is_no_evidence(store):
    _put(store, *(refresh(f"2026-05-{d:02d}T09:00:00", ALLOWED_IP) for d in range(1, 30, 5)))
    assert _verdict(store, "idle_timeout")[0] == "no evidence"


def test_jwt_only_app_is_not_applicable(store):
    _put(
        store,
        partner_call("2026-05-02T09:00:00", ALLOWED_IP, grant="jwt_bearer"),
        jwt_login("2026-05-03T09:00:00", ALLOWED_IP),
    )
    frame = queries.controls_readiness(store, config(), WINDOW, now=NOW)
    assert set(frame["verdict"]) == {"not applicable"} and len(frame) == 10


def test_monitoring_needs_ingest_and_detection_in_the_last_24_hours(store):
    _put(store, refresh("2026-05-02T09:00:00", ALLOWED_IP))
    assert _verdict(store, "monitoring")[0] == "fail"  # data loaded two months before NOW
    runs.start(store, run_id="i1", stage="ingest", unit_id="acme/LoginHistory",
               now=NOW - timedelta(hours=3), org_id=ORG)  # fmt: skip
    runs.finish(store, run_id="i1", stage="ingest", unit_id="acme/LoginHistory", status="ok",
                now=NOW - timedelta(hours=2))  # fmt: skip
    verdict, reason, _ = _verdict(store, "monitoring")
    assert verdict == "fail" and "detection" in reason
    runs.start(
        store, run_id="d1", stage="detect", unit_id="incidents", now=NOW - timedelta(hours=1)
    )
    runs.finish(store, run_id="d1", stage="detect", unit_id="incidents", status="ok",
                now=NOW - timedelta(hours=1))  # fmt: skip
    verdict, _, evidence = _verdict(store, "monitoring")
    assert verdict == "pass" and {row["what"] for row in evidence} >= {"last ingest or import"}


def test_roll_up_fails_on_any_org_and_passes_only_when_all_pass(store):
    _put(
        store,
        _code("2026-05-02T09:00:00", True),
        _code("2026-05-02T09:00:00", True, org_id=OTHER_ORG),
    )
    frame = queries.controls_readiness(store, config(), WINDOW, now=NOW)
    rolled = frame[(frame["scope"] == "app") & (frame["control"] == "pkce")].iloc[0]
    assert rolled["verdict"] == "pass" and rolled["org_id"] is None
    _put(store, _code("2026-05-03T09:00:00", False, org_id=OTHER_ORG))
    frame = queries.controls_readiness(store, config(), WINDOW, now=NOW)
    rolled = frame[(frame["scope"] == "app") & (frame["control"] == "pkce")].iloc[0]
    assert rolled["verdict"] == "fail" and "1 org(s) pass" in rolled["reason"]


def test_roll_up_with_an_org_lacking_evidence_is_no_evidence(store):
    _put(
        store,
        _code("2026-05-02T09:00:00", True),
        refresh("2026-05-02T09:00:00", ALLOWED_IP, org_id=OTHER_ORG),
    )
    frame = queries.controls_readiness(store, config(), WINDOW, now=NOW)
    rolled = frame[(frame["scope"] == "app") & (frame["control"] == "pkce")].iloc[0]
    assert rolled["verdict"] == "no evidence"


def test_verdicts_are_exactly_the_four_words(store):
    _put(store, _code("2026-05-02T09:00:00", True), refresh("2026-05-03T09:00:00", OUTSIDE))
    frame = queries.controls_readiness(store, config(), WINDOW, now=NOW)
    assert set(frame["verdict"]) <= {"pass", "fail", "no evidence", "not applicable"}
    assert set(frame["control_name"]) == set(queries.CONTROLS.values())


def test_csv_is_one_line_per_verdict_and_spreadsheet_safe(store):
    _put(store, refresh("2026-05-03T09:00:00", OUTSIDE, status="=cmd|' /C calc'!A0"))
    frame = queries.controls_readiness(store, config(), WINDOW, now=NOW)
    rows = list(csv.DictReader(io.StringIO(queries.controls_csv(frame))))
    assert len(rows) == len(frame)
    allowlist = next(
        r
        for r in rows
        if r["control_name"].startswith("Refresh-token IP allow") and r["org_id"] == ORG
    )
    assert allowlist["verdict"] == "fail" and OUTSIDE in allowlist["evidence"]
    assert all(not value.startswith(("=", "+", "@")) for row in rows for value in row.values())


def test_the_default_window_is_the_last_30_days_of_data(store):
    _put(store, _code("2026-01-02T09:00:00", False), _code("2026-03-02T09:00:00", True))
    frame = queries.controls_readiness(store, config(), now=NOW)
    row = frame[(frame["control"] == "pkce") & (frame["scope"] == "org")].iloc[0]
    assert row["verdict"] == "pass"
    # Whole UTC days, as the dashboard's date picker sends them, so its default hits the snapshot.
    assert (row["window_start"], row["window_end"]) == (
        datetime(2026, 1, 31),
        datetime(2026, 3, 2, 23, 59, 59, 999999),
    )
    assert queries.day_window(queries.default_window(store)) == (
        row["window_start"],
        row["window_end"],
    )


def test_the_snapshot_detect_leaves_answers_the_default_window_only(store):
    _put(store, _code("2026-05-02T09:00:00", True), refresh("2026-05-03T09:00:00", OUTSIDE))
    live = queries.controls_readiness(store, config(), now=NOW, live=True)
    assert queries.refresh_controls_snapshot(store, config(), now=NOW) == 5
    stored = queries.controls_readiness(store, config(), now=NOW)
    columns = ["app", "org_id", "control", "verdict", "reason", "counter_examples"]
    assert stored[columns].equals(live[columns])
    assert stored.iloc[0]["evidence"] == live.iloc[0]["evidence"]  # timestamps restored
    # The snapshot must never answer for other facts: prove it by planting a wrong verdict.
    store.execute("UPDATE controls_snapshot SET verdict = 'fail' WHERE control = 'pkce'")
    assert _row(queries.controls_readiness(store, config(), now=NOW), "pkce") == "fail"
    wider = config({APP: ["203.0.113.0/28", "208.68.36.0/24"]})
    assert _row(queries.controls_readiness(store, wider, now=NOW), "pkce") == "pass"
    _put(store, _code("2026-05-04T09:00:00", True))  # newer data: another default window
    assert _row(queries.controls_readiness(store, config(), now=NOW), "pkce") == "pass"


def _row(frame, control: str) -> str:
    return frame[(frame["control"] == control) & (frame["scope"] == "org")].iloc[0]["verdict"]


def test_cli_detect_refreshes_the_snapshot(tmp_path):
    from click.testing import CliRunner

    from dashboard.cli import cli
    from ingest import db

    path = tmp_path / "store.duckdb"
    with db.connect(path) as con:
        _put(con, _code("2026-05-02T09:00:00", True))
    toml = tmp_path / "t.toml"
    toml.write_text(f'[apps."{APP}"]\nallowlist = ["203.0.113.0/28"]\n')
    result = CliRunner().invoke(cli, ["--db", str(path), "--config", str(toml), "detect"])
    assert result.exit_code == 0, result.output
    with db.connect(path, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM controls_snapshot").fetchone() == (5,)
