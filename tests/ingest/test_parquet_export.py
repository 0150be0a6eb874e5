"""`tokensentry export --format parquet`: Hive-partitioned events that DuckDB (and so Spark,
Trino, Athena, BigQuery) reads back as the store holds them, written incrementally."""

from __future__ import annotations

import json
import os
import shutil
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from dashboard.cli import cli
from detect.testing import ORG, event, insert_events
from ingest import db, prune
from ingest.parquet_export import export

from ..storage_store import NOW, build

EVENTS_GLOB = "events/**/*.parquet"
DAYS, PER_DAY = 15, 40  # few days: each (org, day) is a file to write
SHORT_RETENTION = 10  # ingest.prune itself leaves the detectors' minimum to its callers


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("export") / "store.duckdb"
    build(path, days=DAYS, per_day=PER_DAY)
    return path


@pytest.fixture
def store_path(built, tmp_path) -> Path:
    path = tmp_path / "store.duckdb"
    shutil.copy(built, path)
    return path


def partitions(store: Path) -> int:
    with db.connect(store, read_only=True) as con:
        [(count,)] = con.execute(
            "SELECT count(DISTINCT (org_id, CAST(occurred_at AS DATE))) FROM events"
        ).fetchall()
    return count


def files(out: Path) -> dict[str, tuple[int, int]]:
    """Every data file with its inode and mtime: a rewrite changes both."""
    return {
        str(p.relative_to(out)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in out.rglob("*.parquet")
    }


def assert_same_rows(store: Path, out: Path) -> None:
    """The export holds exactly the store's events, every column, org_id and day from the
    path."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{store}' AS s (READ_ONLY)")
    exported = f"""SELECT * EXCLUDE (day) FROM read_parquet('{out}/{EVENTS_GLOB}',
                   hive_partitioning = true, hive_types = {{'org_id': VARCHAR, 'day': DATE}})"""
    columns = ", ".join(r[0] for r in con.execute("DESCRIBE s.events").fetchall())
    for left, right in ((f"SELECT {columns} FROM s.events", exported), (exported, None)):
        right = right or f"SELECT {columns} FROM s.events"
        [(extra,)] = con.execute(
            f"SELECT count(*) FROM (SELECT {columns} FROM ({left}) EXCEPT ALL "
            f"SELECT {columns} FROM ({right}))"
        ).fetchall()
        assert extra == 0
    [(days_ok,)] = con.execute(
        f"""SELECT bool_and(day = CAST(occurred_at AS DATE)) FROM read_parquet(
            '{out}/{EVENTS_GLOB}', hive_partitioning = true)"""
    ).fetchall()
    assert days_ok
    con.close()


def test_export_is_the_store_and_a_second_export_writes_nothing(store_path, tmp_path):
    out = tmp_path / "lake"
    first = export(store_path, out, now=NOW)
    assert first.partitions_written == first.partitions_new == partitions(store_path) > 2 * DAYS
    assert sorted(first.snapshots_written) == ["alerts", "incident_alerts", "incidents"]
    assert_same_rows(store_path, out)
    assert {p.name for p in out.iterdir() if not p.name.startswith(".")} == {
        "events",
        "alerts",
        "incidents",
        "incident_alerts",
        "_manifest.json",
    }  # fmt: skip  (never raw_records or raw_elf)
    one = out / "events" / f"org_id={ORG}" / f"day={NOW:%Y-%m-%d}"
    assert [p.name for p in one.iterdir()] == ["data_0.parquet"]
    before, manifest = files(out), (out / "_manifest.json").read_bytes()

    again = export(store_path, out, now=NOW + timedelta(hours=1))

    assert again.partitions_written == 0 and again.snapshots_written == []
    assert again.partitions_unchanged == first.partitions_written
    assert files(out) == before and (out / "_manifest.json").read_bytes() == manifest
    assert not [p for p in out.iterdir() if p.name.startswith(".staging")]


def test_a_new_day_is_appended_and_a_changed_day_rewritten(store_path, tmp_path):
    out = tmp_path / "lake"
    export(store_path, out, now=NOW)
    before = files(out)
    tomorrow = NOW + timedelta(days=1)
    changed_day = f"org_id={ORG}/day={NOW - timedelta(days=3):%Y-%m-%d}"
    with db.connect(store_path) as con:
        insert_events(con, [event(tomorrow.isoformat(), event_id="new-day")])
        con.execute(  # enrichment of one old row (detect/attribution writes such updates)
            "UPDATE events SET inferred_app = 'Acme Sync' WHERE event_id = ?",
            [f"bulk-{3 * PER_DAY}"],
        )
    report = export(store_path, out, now=tomorrow)
    assert (report.partitions_new, report.partitions_written) == (1, 2)
    after = files(out)
    rewritten = {k for k in after if after[k] != before.get(k)}
    assert rewritten == {
        f"events/org_id={ORG}/day={tomorrow:%Y-%m-%d}/data_0.parquet",
        f"events/{changed_day}/data_0.parquet",
    }
    assert_same_rows(store_path, out)
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["partitions"][f"{ORG}/{tomorrow:%Y-%m-%d}"]["rows"] == 1


def test_alert_snapshot_follows_triage_and_is_scrubbed(store_path, tmp_path):
    out = tmp_path / "lake"
    export(store_path, out, now=NOW)
    with db.connect(store_path) as con:
        con.execute(
            "UPDATE triage SET status = 'false_positive', "
            "note = 'pasted Bearer 00D5g000004XyZa!AQ4AQFake.Session.Token.Value by mistake'"
        )
    report = export(store_path, out, now=NOW)
    assert report.snapshots_written == ["alerts"] and report.partitions_written == 0
    con = duckdb.connect()
    [(status, note)] = con.execute(
        f"SELECT status, triage_note FROM '{out}/alerts/alerts.parquet' "
        "WHERE alert_id = 'alert-old'"
    ).fetchall()
    assert status == "false_positive"
    assert "AQ4AQFake" not in note and "[redacted" in note
    [(incident,)] = con.execute(
        f"SELECT incident_id FROM '{out}/alerts/alerts.parquet' WHERE alert_id = 'alert-span'"
    ).fetchall()
    assert incident == "alert-old"


def test_days_pruned_from_the_store_stay_in_the_export(store_path, tmp_path):
    out = tmp_path / "lake"
    export(store_path, out, now=NOW)
    archived = files(out)
    prune.prune(store_path, days=SHORT_RETENTION, now=NOW)
    report = export(store_path, out, now=NOW)
    assert report.partitions_written == 0 and report.partitions_kept_pruned > 0
    assert {k: v for k, v in files(out).items() if k.startswith("events/")} == {
        k: v for k, v in archived.items() if k.startswith("events/")
    }
    [(count,)] = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{out}/{EVENTS_GLOB}', hive_partitioning = true)"
    ).fetchall()
    assert count == DAYS * PER_DAY + 1  # every exported row, the pruned days included


def test_a_partition_deleted_by_hand_is_written_again(store_path, tmp_path):
    out = tmp_path / "lake"
    export(store_path, out, now=NOW)
    gone = out / "events" / f"org_id={ORG}" / f"day={NOW:%Y-%m-%d}"
    shutil.rmtree(gone)
    assert export(store_path, out, now=NOW).partitions_written == 1
    assert_same_rows(store_path, out)


def test_another_duckdb_hash_rewrites_everything_once(store_path, tmp_path):
    out = tmp_path / "lake"
    first = export(store_path, out, now=NOW)
    manifest = json.loads((out / "_manifest.json").read_text())
    manifest["checksum"] = "duckdb-hash/0.0.1"  # written by a DuckDB whose hash differed
    (out / "_manifest.json").write_text(json.dumps(manifest))
    again = export(store_path, out, now=NOW)
    assert again.partitions_written == first.partitions_written and again.partitions_new == 0
    assert export(store_path, out, now=NOW).partitions_written == 0
    assert_same_rows(store_path, out)


def test_cli_export(store_path, tmp_path):
    out = tmp_path / "lake"
    result = CliRunner().invoke(
        cli,
        ["--db", str(store_path), "export", "--format", "parquet", str(out), "--report", "json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["partitions_written"] == partitions(store_path)
    assert os.stat(out).st_mode & 0o077 == 0  # owner-only, like the store
    missing = CliRunner().invoke(cli, ["--db", str(tmp_path / "no.duckdb"), "export", str(out)])
    assert missing.exit_code == 2 and "nothing to export" in missing.stderr
