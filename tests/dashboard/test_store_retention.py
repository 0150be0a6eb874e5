"""`tokensentry prune`: old raw rows and events go, everything a human or an alert relies on
stays, the file shrinks, and a refused or interrupted prune leaves the store as it was."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import namedtuple
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.cli import cli
from dashboard.nightly import nightly_lock, run_nightly
from dashboard.queries import rollups
from dashboard.store_maintenance import check_configured_retention, nightly_prune
from detect import history, lifecycle
from ingest import config as config_module
from ingest import db, private_files, prune
from ingest.errors import ConfigError, InputError

from ..storage_store import CUTOFF, NOW, RETENTION, build, bulk_id
from .writer import hold_write_lock

SCHEMA_SQL = """SELECT table_name, sql FROM duckdb_tables() UNION ALL
    SELECT table_name, constraint_text FROM duckdb_constraints() ORDER BY ALL"""
KEPT_WHOLE = ("alerts", "triage", "audit_log", "incidents", "incident_alerts")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("retention") / "store.duckdb"
    build(path)
    return path


@pytest.fixture
def store_path(built, tmp_path) -> Path:
    path = tmp_path / "store.duckdb"
    shutil.copy(built, path)
    return path


def rows(path: Path, sql: str) -> list[tuple]:
    with db.connect(path, read_only=True) as con:
        return con.execute(sql).fetchall()


def table(path: Path, name: str) -> list[tuple]:
    return sorted(rows(path, f"SELECT * FROM {name}"), key=repr)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def invoke(store: Path, config: Path, *args: str):
    return CliRunner().invoke(
        cli, ["--db", str(store), "--config", str(config), *args], catch_exceptions=False
    )


def test_prune_drops_old_rows_keeps_evidence_state_and_decisions_and_shrinks(store_path):
    before = {name: table(store_path, name) for name in KEPT_WHOLE}
    schema = rows(store_path, SCHEMA_SQL)
    size = store_path.stat().st_size

    report = prune.prune(store_path, days=RETENTION, now=NOW)

    assert report.cutoff == CUTOFF
    assert report.bytes_after == store_path.stat().st_size < size * 0.9
    assert private_files.is_owner_only(store_path)
    assert not prune.new_path(store_path).exists()
    assert {name: table(store_path, name) for name in KEPT_WHOLE} == before
    assert rows(store_path, SCHEMA_SQL) == schema  # columns, keys, checks, defaults
    with db.connect(store_path) as con:
        assert db.migrate(con) == []  # the migrations' record came along
    events = {r[0] for r in rows(store_path, "SELECT event_id FROM events")}
    cited = {bulk_id(150), bulk_id(150, 1), bulk_id(140), bulk_id(5)}
    assert cited <= events  # what alerts cite, however old
    assert "token-old" in events  # the token's only snapshot
    assert bulk_id(149) not in events and bulk_id(199) not in events  # old, uncited
    assert bulk_id(100) in events and bulk_id(0) in events  # within retention
    [(oldest_uncited,)] = rows(
        store_path,
        f"SELECT min(occurred_at) FROM events WHERE event_id NOT IN {tuple(cited | {'token-old'})}",
    )
    assert oldest_uncited >= CUTOFF
    raw = {r[0] for r in rows(store_path, "SELECT record_id FROM raw_records")}
    # LoginHistory: recent rows; Organization: its only row (the time zone); EventLogFile: the
    # first Hourly listing (daily files are skipped from its day on) and the recent one.
    assert raw == {"lh-100", "lh-10", "org-1", "elf-185", "elf-60"}
    [(old_elf,)] = rows(store_path, f"SELECT count(*) FROM raw_elf WHERE _occurred_at < '{CUTOFF}'")
    assert old_elf == 0
    assert rows(store_path, "SELECT quarantine_id FROM quarantine") == [("q-3",)]
    counts = {t.table: t for t in report.tables}
    assert counts["events"].kept_old == 4 and counts["raw_records"].deleted == 3
    with db.connect(store_path) as con:
        assert prune.pruned_before(con) == CUTOFF


def test_dry_run_reports_the_same_counts_and_changes_nothing(store_path, tmp_path):
    original = digest(store_path)
    planned = prune.plan(store_path, days=RETENTION, now=NOW)
    assert digest(store_path) == original
    copy = tmp_path / "copy.duckdb"
    shutil.copy(store_path, copy)
    done = prune.prune(copy, days=RETENTION, now=NOW)
    assert [(t.table, t.deleted, t.kept_old) for t in planned.tables] == [
        (t.table, t.deleted, t.kept_old) for t in done.tables
    ]


def test_cli_prune_json_and_dry_run(store_path, tmp_path):
    config = tmp_path / "none.toml"
    config.write_text("")
    original = digest(store_path)
    dry = invoke(
        store_path, config, "prune", "--older-than", "150", "--dry-run", "--format", "json"
    )
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["dry_run"] is True
    assert digest(store_path) == original
    done = invoke(store_path, config, "prune", "--older-than", "150", "--format", "json")
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["bytes_after"] < report["bytes_before"] and report["deleted"] > 0


def test_configured_retention_is_the_default(store_path, tmp_path):
    config = tmp_path / "t.toml"
    config.write_text("[store]\nretention_days = 130\n")
    result = invoke(store_path, config, "prune", "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["retention_days"] == 130


def test_refuses_a_retention_shorter_than_a_detector_needs(store_path, tmp_path):
    config = tmp_path / "t.toml"
    config.write_text("")
    original = digest(store_path)
    need = history.minimum_retention(config_module.load(config))
    result = invoke(store_path, config, "prune", "--older-than", str(need.days - 1))
    assert result.exit_code == 2
    assert f"at least {need.days} days" in result.stderr and need.detector_id in result.stderr
    # A tuned window raises the minimum: it is read from the settings, not hard-coded.
    config.write_text("[detectors.chain_rejection]\nchain_days = 200\n")
    result = invoke(store_path, config, "prune", "--older-than", "150")
    assert result.exit_code == 2 and "chain_days = 200" in result.stderr
    no_days = invoke(store_path, tmp_path / "absent.toml", "prune")
    assert no_days.exit_code == 2
    assert digest(store_path) == original


def test_store_config_is_strict(tmp_path):
    assert config_module.parse({"store": {"retention_days": 180}}, base_dir=tmp_path).store == (
        config_module.StoreConfig(retention_days=180)
    )
    for body in ({"retention_days": 0}, {"retention_days": "180"}, {"retention": 180}):
        with pytest.raises(ConfigError, match=r"^store\."):
            config_module.parse({"store": body}, base_dir=tmp_path)
    too_short = config_module.parse({"store": {"retention_days": 30}}, base_dir=tmp_path)
    with pytest.raises(InputError, match=r"store\.retention_days = 30: too short"):
        check_configured_retention(too_short)


def test_refuses_without_free_disk_for_the_copy(store_path, monkeypatch):
    original = digest(store_path)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(prune.shutil, "disk_usage", lambda _path: usage(10**9, 10**9, 10**6))
    with pytest.raises(InputError, match=r"MB free.*needs up to.*nothing was changed"):
        prune.prune(store_path, days=RETENTION, now=NOW)
    assert digest(store_path) == original
    assert not prune.new_path(store_path).exists()


@pytest.mark.parametrize("failing", ["_record", "replace"])
def test_an_interrupted_rewrite_leaves_the_original_intact(store_path, monkeypatch, failing):
    with db.connect(store_path) as con:
        con.execute("CHECKPOINT")
    original = digest(store_path)

    def interrupt(*_args, **_kwargs):
        raise KeyboardInterrupt

    if failing == "replace":
        monkeypatch.setattr(prune.os, "replace", interrupt)
    else:
        monkeypatch.setattr(prune, failing, interrupt)
    with pytest.raises(KeyboardInterrupt):
        prune.prune(store_path, days=RETENTION, now=NOW)
    assert digest(store_path) == original
    assert not prune.new_path(store_path).exists()
    monkeypatch.undo()
    assert prune.prune(store_path, days=RETENTION, now=NOW).deleted > 0


def test_a_copy_left_by_a_killed_prune_is_cleared(store_path):
    prune.new_path(store_path).write_bytes(b"half a database")
    prune.prune(store_path, days=RETENTION, now=NOW)
    assert not prune.new_path(store_path).exists()
    assert rows(store_path, "SELECT count(*) FROM alerts") == [(2,)]


def test_prune_waits_for_no_one_while_the_nightly_job_runs(store_path, tmp_path):
    config = tmp_path / "t.toml"
    config.write_text("")
    original = digest(store_path)
    with nightly_lock(store_path):
        result = invoke(store_path, config, "prune", "--older-than", "150")
    assert result.exit_code == 1 and "still running" in result.stderr
    assert digest(store_path) == original


def test_a_writer_holding_the_store_makes_prune_wait_then_finish(store_path, capsys):
    """Like every pipeline command, prune waits (bounded) for a writer instead of failing."""
    with hold_write_lock(store_path, seconds=2):
        result = prune.prune(store_path, days=RETENTION, now=NOW)
    assert result.deleted > 0
    assert "waiting" in capsys.readouterr().err.lower()
    assert not prune.new_path(store_path).exists()


def test_full_rescan_does_not_supersede_alerts_whose_events_were_pruned(store_path):
    prune.prune(store_path, days=RETENTION, now=NOW)
    with db.connect(store_path) as con:
        con.execute("DELETE FROM triage")  # untriaged: re-grading may touch it
        superseded = lifecycle.supersede_missing(
            con, "off_allowlist_ip", [], run_id="r", now=NOW, horizon=None
        )
        assert superseded == 1  # alert-span (last seen after the cutoff); alert-old is kept
        [(old,)] = con.execute(
            "SELECT superseded_at FROM alerts WHERE alert_id = 'alert-old'"
        ).fetchall()
        assert old is None


def test_nightly_prunes_only_when_retention_is_configured(store_path, tmp_path):
    lines: list[str] = []
    plain = config_module.parse({}, base_dir=tmp_path)
    assert nightly_prune(store_path, plain, now=lambda: NOW, log=lines.append) is None
    assert lines == []
    kept = config_module.parse({"store": {"retention_days": RETENTION}}, base_dir=tmp_path)
    size = store_path.stat().st_size
    assert nightly_prune(store_path, kept, now=lambda: NOW, log=lines.append) is None
    assert store_path.stat().st_size < size
    assert lines and lines[0].startswith("prune: before 2026-07-21: deleted events")
    short = config_module.parse({"store": {"retention_days": 20}}, base_dir=tmp_path)
    failure = nightly_prune(store_path, short, now=lambda: NOW + timedelta(days=1), log=print)
    assert failure and "too short" in failure


def test_minimum_follows_the_detectors_declarations(tmp_path):
    needs = {n.detector_id: n for n in history.needs(config_module.parse({}, base_dir=tmp_path))}
    assert needs["chain_rejection"].days == 120  # chain_days
    assert needs["new_network"].days >= 14  # learning_days, at least
    tuned = config_module.parse(
        {"detectors": {"new_network": {"learning_days": 300}}}, base_dir=tmp_path
    )
    assert history.minimum_retention(tuned).days == 300
    assert history.minimum_retention(tuned).reason == "learning_days = 300"


def test_the_nightly_job_prunes_after_detect_under_its_lock(store_path, tmp_path):
    config = config_module.parse({"store": {"retention_days": RETENTION}}, base_dir=tmp_path)
    lines: list[str] = []
    run_nightly(store_path, config, now=lambda: NOW, log=lines.append)
    stages = [line.split(":")[0].split()[0] for line in lines]
    assert stages.index("prune") > max(i for i, s in enumerate(stages) if s == "detect")
    assert rows(store_path, f"SELECT count(*) FROM events WHERE occurred_at < '{CUTOFF}'") == [
        (4,)
    ]  # the three old events alerts cite and the token's snapshot
    assert rows(store_path, "SELECT count(*) FROM alerts WHERE alert_id LIKE 'alert-%'") == [(2,)]


def test_the_egress_roll_up_keeps_the_pruned_days(store_path):
    with db.connect(store_path) as con:
        rollups.refresh_egress(con, now=NOW)
    before = table(store_path, "egress_daily")
    assert min(r[3] for r in before) < CUTOFF.date()
    prune.prune(store_path, days=RETENTION, now=NOW)
    with db.connect(store_path) as con:
        assert rollups.egress_ready(con)  # nothing to rebuild: the pruned days are summed
        assert rollups.refresh_egress(con, now=NOW) == 0
    assert table(store_path, "egress_daily") == before
