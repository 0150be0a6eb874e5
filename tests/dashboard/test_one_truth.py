"""One truth for the analyst (issue 14): each fact is computed once and every surface shows the
same answer: the query, `tokensentry controls|health`, the Streamlit page (AppTest), the
digest's pipeline section and the notebook helper. On the demo store and on a fresh two-org
store built here from the test helpers (a different world than the demo's).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard import notebook_helpers as nb
from dashboard import queries
from dashboard.cli import cli
from dashboard.digest.content import collect
from dashboard.digest.message import render_options
from dashboard.digest.render import render_text
from detect import runner
from detect.testing import (
    ALLOWED_IP,
    APP,
    HUMAN,
    ORG,
    OTHER_ORG,
    USER,
    insert_events,
    partner_call,
    refresh,
    token_snapshot,
)
from ingest import config as config_module
from ingest import db
from ingest.timeparse import now_utc

from .test_pages import open_page, start

THIEF = "208.68.36.90"
ORG_HOOLI = "00D5g00000HoOlIEAV"
AGENT = "AcmeSync/2.1 (integration)"
STRANGER = "0055g00000StRaNAAV"
DETECTED = now_utc().replace(microsecond=0)
TOML = f"""
[apps."{APP}"]
allowlist = ["203.0.113.0/28"]

[orgs.alpha]
org_id = "{ORG}"

[orgs.beta]
org_id = "{OTHER_ORG}"
"""


def _run(con, unit: str, org: str, hours_ago: float, status: str = "ok", error=None) -> None:
    at = DETECTED - timedelta(hours=hours_ago)
    con.execute(
        "INSERT INTO runs (run_id, stage, unit_id, org_id, started_at, finished_at, status, "
        "error) VALUES (?, 'ingest', ?, ?, ?, ?, ?, ?)",
        [f"r-{unit}-{hours_ago}", unit, org, at, at, status, error],
    )


@pytest.fixture(scope="module")
def fresh_store(tmp_path_factory) -> Path:
    """Two orgs whose Login ELF rows name no app. alpha: the token owner ties two successful
    refreshes from a VPS to the app (confidence 0.8): a proven bypass. beta: only a user agent
    does (0.5): suspected. alpha's token export is current, beta's stopped 60 days ago."""
    folder = tmp_path_factory.mktemp("one-truth")
    (folder / "tokensentry.toml").write_text(TOML, encoding="utf-8")
    store = folder / "store.duckdb"
    elf = {"app_name": None, "sources": ["elf:Login"]}
    with db.connect(store) as con:
        insert_events(
            con,
            [
                partner_call("2026-11-20T09:00:00", ALLOWED_IP, user_id=USER),
                refresh("2026-11-21T09:00:00", THIEF, **elf),
                refresh("2026-11-21T10:00:00", THIEF, **elf),
                *[
                    refresh(
                        f"2026-11-2{d}T08:00:00",
                        ALLOWED_IP,
                        org_id=OTHER_ORG,
                        user_id=HUMAN,
                        user_agent=AGENT,
                    )
                    for d in (1, 2, 3)
                ],
                refresh(
                    "2026-11-24T03:00:00",
                    THIEF,
                    org_id=OTHER_ORG,
                    user_id=STRANGER,
                    user_agent=AGENT,
                    **elf,
                ),
                token_snapshot("2026-10-20T10:00:00", user_id=USER),  # 40 days idle
                token_snapshot("2026-11-28T10:00:00", user_id=HUMAN),
            ],
            loaded_at=DETECTED.replace(year=2026, month=11, day=29),
        )
        # beta's export last delivered on 2026-09-30, its token used the day before.
        insert_events(
            con,
            [token_snapshot("2026-09-29T10:00:00", org_id=OTHER_ORG, user_id=HUMAN)],
            loaded_at=DETECTED.replace(year=2026, month=9, day=30),
        )
        _run(con, "alpha/login_history", ORG, 2)
        _run(con, "alpha/oauth_token", ORG, 3)
        _run(con, "beta/login_history", OTHER_ORG, 40)  # stale: one night + 2 h passed
        _run(con, "beta/oauth_token", OTHER_ORG, 30)
        _run(con, "beta/oauth_token", OTHER_ORG, 1, "failed", "HTTP 503")
        config = config_module.load(folder / "tokensentry.toml")
        runner.run(con, config, run_id="truth", now=lambda: DETECTED, rescan_all=True)
    return store


def _cli(store: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["--db", str(store), "--config", str(store.parent / "tokensentry.toml"), *args]
    )
    return result.exit_code, result.stdout


def _config(store: Path):
    return config_module.load(store.parent / "tokensentry.toml")


def _labels(store: Path) -> dict[str, str]:
    return {org.org_id: alias for alias, org in _config(store).orgs.items() if org.org_id}


def _table(app, column: str):
    return next(t.value for t in app.table if column in getattr(t.value, "columns", []))


# --- controls --------------------------------------------------------------------------------


def _controls_everywhere(monkeypatch, store: Path) -> dict[str, dict]:
    """(app, org alias, control) -> verdict, from the query, the CLI and the page."""
    labels = _labels(store)
    with db.connect(store, read_only=True) as con:
        frame = queries.controls_readiness(con, _config(store))
    org_rows = frame[frame["scope"] == "org"]
    answers = {
        "query": {
            (r.app, labels[r.org_id], r.control_name): r.verdict for r in org_rows.itertuples()
        }
    }
    code, out = _cli(store, "controls", "--format", "json")
    assert code == 0
    names = dict(zip(frame["control"], frame["control_name"], strict=False))
    answers["cli"] = {
        (r["app"], labels[r["org_id"]], names[r["control"]]): r["verdict"]
        for r in json.loads(out)
        if r["org_id"]
    }
    page = _table(open_page(start(monkeypatch, store), "controls.py"), "control_name")
    answers["page"] = {
        (r["app"], r["org"].split(" (")[0], r["control_name"]): r["verdict"]
        for r in page.to_dict("records")
    }
    return answers


def _assert_one_answer(answers: dict[str, dict]) -> dict:
    first = next(iter(answers.values()))
    for name, answer in answers.items():
        assert answer == first, name
    return first


def test_controls_fresh_store_inferred_apps_count_and_the_weakest_rule_only_suspects(
    monkeypatch, fresh_store
):
    verdicts = _assert_one_answer(_controls_everywhere(monkeypatch, fresh_store))
    allowlist = "Refresh-token IP allowlist enforced"
    assert verdicts[(APP, "alpha", allowlist)] == "fail"
    assert verdicts[(APP, "beta", allowlist)] == "no evidence"
    with db.connect(fresh_store, read_only=True) as con:
        frame = queries.controls_readiness(con, _config(fresh_store))
    beta = frame[(frame["org_id"] == OTHER_ORG) & (frame["control"] == "allowlist")].iloc[0]
    assert beta["suspected"] and beta["reason"].startswith("suspected")
    alpha = frame[(frame["org_id"] == ORG) & (frame["control"] == "allowlist")].iloc[0]
    assert {row["confidence"] for row in alpha["evidence"]} == {0.8}  # the inference is shown


def test_controls_demo_never_contradicts_an_open_alert(monkeypatch, demo_db):
    verdicts = _assert_one_answer(_controls_everywhere(monkeypatch, demo_db))
    assert verdicts[("Acme Sync", "hooli", "Refresh-token IP allowlist enforced")] == "fail"
    labels = _labels(demo_db)
    with db.connect(demo_db, read_only=True) as con:
        proven = con.execute(
            "SELECT DISTINCT app_name, org_id FROM alerts a LEFT JOIN triage t USING (alert_id) "
            "WHERE detector_id = 'off_allowlist_ip' AND severity = 'high' "
            "AND coalesce(t.status, 'new') IN ('new', 'acknowledged')"
        ).fetchall()
    assert proven
    for app, org in proven:
        assert verdicts[(app, labels[org], "Refresh-token IP allowlist enforced")] == "fail"


# --- pipeline health -------------------------------------------------------------------------


def _health_everywhere(monkeypatch, store: Path) -> dict[str, dict]:
    """(org alias, source) -> state, from the query, the CLI, /pipeline, the overview, the
    notebook helper; and the digest's stale and failed lines."""
    config, labels = _config(store), _labels(store)
    now = now_utc()
    with db.connect(store, read_only=True) as con:
        health = queries.pipeline_health(con, now, config)
        digest = render_text(collect(con, config, now=now), render_options(config))
    answers = {
        "query": {(labels.get(r.org_id, r.org_id), r.source): r.state for r in health.itertuples()}
    }
    code, out = _cli(store, "health", "--format", "json")
    records = json.loads(out)
    answers["cli"] = {(r["org"], r["source"]): r["state"] for r in records}
    assert code == (1 if {"failed", "stale"} & set(answers["query"].values()) else 0)
    for page in ("pipeline.py", "overview.py"):
        shown = _table(open_page(start(monkeypatch, store), page), "cadence")
        answers[page] = {
            (r["org"].split(" (")[0], r["source"]): r["state"] for r in shown.to_dict("records")
        }
    monkeypatch.setenv("TOKENSENTRY_DB", str(store))
    monkeypatch.setenv("TOKENSENTRY_CONFIG", str(store.parent / "tokensentry.toml"))
    with nb.connect() as con:
        helper = nb.pipeline_health(con, now=now)
    answers["notebook"] = {(r.org, r.source): r.state for r in helper.itertuples()}
    verdict = _assert_one_answer(answers)
    for (org, source), state in verdict.items():
        listed = f"{state}: {org}/{source}" in digest
        assert listed == (state in ("failed", "stale")), (org, source, state)
    if not any(state in ("failed", "stale") for state in verdict.values()):
        assert "Every source fetched" in digest
    assert "720.8" not in out and all(r["age"] and "." not in r["age"] for r in records)
    return verdict


def test_health_fresh_store_one_answer_everywhere(monkeypatch, fresh_store):
    states = _health_everywhere(monkeypatch, fresh_store)
    assert states == {
        ("alpha", "login_history"): "ok",
        ("alpha", "oauth_token"): "ok",
        ("beta", "login_history"): "stale",
        ("beta", "oauth_token"): "failed",
    }


def test_health_demo_imported_files_count_toward_their_org_and_source(monkeypatch, demo_db):
    states = _health_everywhere(monkeypatch, demo_db)
    assert not any(source.startswith(("/", "import")) for _, source in states)
    assert len(states) < 40  # one row per org × source, not one per imported file
    with db.connect(demo_db, read_only=True) as con:
        health = queries.pipeline_health(con, now_utc(), _config(demo_db))
    weekly = health[(health["org_id"] == ORG_HOOLI) & (health["source"] == "oauth_token")]
    assert weekly[["cadence_from", "cadence_text"]].values.tolist() == [["learned", "7 d 0 h"]]
    assert states[("umbrella", "oauth_token")] == "stale"  # its export stopped


# --- token idleness --------------------------------------------------------------------------


def _tokens_everywhere(monkeypatch, store: Path) -> dict[str, dict]:
    labels = _labels(store)
    with db.connect(store, read_only=True) as con:
        tokens = queries.refresh_tokens(con, None, _config(store))
        alerts = con.execute(
            "SELECT org_id, user_id, json_extract_string(evidence, '$.state') FROM alerts "
            "WHERE detector_id = 'idle_token' AND dedup_key LIKE 'idle|%'"
        ).fetchall()
    due = tokens[tokens["state"] != "active"]
    answers = {
        "query": {(labels[r.org_id], r.user_id): r.state for r in due.itertuples()},
        "detector": {
            (labels[org], user): state.replace("heartbeat_due", "heartbeat due")
            for org, user, state in alerts
        },
    }
    shown = _table(open_page(start(monkeypatch, store), "tokens.py"), "idle")
    answers["page"] = {
        (r["org"].split(" (")[0], r["user_id"]): r["state"] for r in shown.to_dict("records")
    }
    assert all("." not in text for text in shown["idle"])  # `40 d 1 h`, never `961.400000`
    return _assert_one_answer(answers)


def test_tokens_fresh_store_measured_at_each_orgs_own_snapshot(monkeypatch, fresh_store):
    assert _tokens_everywhere(monkeypatch, fresh_store) == {("alpha", USER): "expired"}


def test_tokens_demo_a_stopped_export_expires_nothing(monkeypatch, demo_db):
    due = _tokens_everywhere(monkeypatch, demo_db)
    assert not [key for key in due if key[0] == "umbrella"]
