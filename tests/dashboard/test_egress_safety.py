"""Known egress is what detection trusts: `egress add` refuses the entries that would silence
far more than one partner's egress, shows what an entry would silence before recording it, and
audits every override (issue 14)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

from dashboard import queries
from dashboard.cli import cli
from detect import runner
from detect.testing import config, insert_events, refresh
from ingest import db

NOW = datetime(2026, 6, 1)


@pytest.fixture
def store_path(tmp_path):
    """A store whose open alerts are three off_allowlist_ip alerts of APP (two in one /24)."""
    path = tmp_path / "store.duckdb"
    with db.connect(path) as con:
        insert_events(con, [
            refresh("2026-05-01T09:00:00", "198.51.100.9"),
            refresh("2026-05-01T10:00:00", "198.51.100.10", user_id="005OTHER0000000AAA"),
            refresh("2026-05-01T11:00:00", "192.0.2.50", user_id="005THIRD0000000AAA"),
        ])  # fmt: skip
        clock = iter(NOW + timedelta(seconds=s) for s in range(100))
        runner.run(con, config(), run_id="r1", now=lambda: next(clock),
                   detector_ids=["off_allowlist_ip"], rescan_all=True)  # fmt: skip
        assert con.execute("SELECT count(*) FROM alerts").fetchone()[0] >= 2
    return path


def _add(path, *args: str):
    return CliRunner().invoke(cli, ["--db", str(path), "egress", "add", *args, "--analyst", "ana"])


def _entries(path) -> int:
    with db.connect(path, read_only=True) as con:
        return con.execute("SELECT count(*) FROM known_egress").fetchone()[0]


def _egress_audit(path) -> list[tuple]:
    with db.connect(path, read_only=True) as con:
        return con.execute(
            "SELECT target_id, analyst, note, via FROM audit_log WHERE target_kind = 'egress'"
        ).fetchall()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["0.0.0.0/0"], "4294967296 IPv4 addresses"),
        (["198.51.100.0/23"], "more than 256"),
        (["198.51.100.0-198.51.101.0"], "257 IPv4 addresses"),
        (["::/0"], "wider than an IPv6 /64"),
        (["2001:db8::/63"], "wider than an IPv6 /64"),
        (["198.51.100.9", "--app", "Acme Snyc"], "did you mean 'Acme Sync'"),
        (["198.51.100.9", "--days", "3650"], "past 365"),
        (["198.51.100.9", "--days", "366"], "past 365"),
    ],
)
def test_unsafe_entries_are_refused_with_the_reason_and_the_way_out(store_path, args, says):
    result = _add(store_path, *args)
    assert result.exit_code == 2, result.output
    assert says in result.stderr and "--force" in result.stderr
    assert _entries(store_path) == 0 and _egress_audit(store_path) == []


@pytest.mark.parametrize(
    "args",
    [["198.51.100.0/24"], ["2001:db8::/64"], ["198.51.100.9", "--app", "acme sync"],
     ["198.51.100.9", "--days", "365"], ["198.51.100.9"]],
)  # fmt: skip
def test_safe_entries_are_recorded_without_audit(store_path, args):
    result = _add(store_path, *args)
    assert result.exit_code == 0, result.output
    assert _entries(store_path) == 1 and _egress_audit(store_path) == []


def test_an_app_only_configured_is_accepted(store_path, tmp_path):
    conf = tmp_path / "tokensentry.toml"
    conf.write_text('[apps."Beta Connector"]\nallowlist = ["203.0.113.0/28"]\n')
    result = CliRunner().invoke(cli, ["--db", str(store_path), "--config", str(conf), "egress",
                                      "add", "198.51.100.9", "--app", "Beta Connector"])  # fmt: skip
    assert result.exit_code == 0, result.output


def test_preview_counts_the_open_alerts_it_would_silence(store_path):
    result = _add(store_path, "198.51.100.0/24")
    assert "would silence 2 open alerts: off_allowlist_ip ×2" in result.stderr
    with db.connect(store_path, read_only=True) as con:
        wide = queries.would_silence(con, "0.0.0.0/0")
        other_app = queries.would_silence(con, "0.0.0.0/0", app_name="Another App")
        none = queries.would_silence(con, "10.0.0.0/8")
    assert wide.total == 3 and [d for d, _, _ in wide.counts] == ["off_allowlist_ip"] * len(
        wide.counts
    )
    assert other_app.total == 0 and none.describe() == "would silence no open alert"


def test_preview_leaves_out_triaged_alerts(store_path):
    with db.connect(store_path) as con:
        [alert_id] = con.execute(
            "SELECT alert_id FROM alerts WHERE list_contains(ips, '192.0.2.50')"
        ).fetchone()
        queries.triage(con, [alert_id], "false_positive", note=None, analyst="ana", now=NOW)
        assert queries.would_silence(con, "0.0.0.0/0").total == 2


def test_preview_is_printed_even_when_refused(store_path):
    result = _add(store_path, "0.0.0.0/0")
    assert "would silence 3 open alerts" in result.stderr and result.exit_code == 2


def test_force_records_and_audits_what_was_overridden(store_path):
    result = _add(store_path, "0.0.0.0/0", "--app", "Acme Snyc", "--days", "3650",
                  "--note", "vendor said so", "--force")  # fmt: skip
    assert result.exit_code == 0, result.output
    egress_id = re.search(r"^([0-9a-f]{16}): ", result.stderr, re.M).group(1)
    [(target, analyst, note, via)] = _egress_audit(store_path)
    assert (target, analyst, via) == (egress_id, "ana", "cli")
    for overridden in ("width:", "app:", "days:", "0.0.0.0/0", "vendor said so"):
        assert overridden in note
    listed = CliRunner().invoke(cli, ["--db", str(store_path), "egress", "list", "--format",
                                      "json"])  # fmt: skip
    [entry] = json.loads(listed.stdout)
    assert entry["egress_id"] == egress_id
