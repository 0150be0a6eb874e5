"""Known egress: recorded with an expiry, honoured by every detector that judges a network."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

from dashboard import queries
from dashboard.cli import cli
from detect import egress, runner
from detect.detectors import impossible_travel, new_network, refresh_token_reuse
from detect.testing import ALLOWED_IP, APP, config, insert_events, refresh
from ingest import db
from ingest.errors import InputError

NOW = datetime(2026, 6, 1)


def _example(detector, name_part: str):
    return next(e for e in detector.DETECTOR.examples if name_part in e.name)


def _alerts(store, detector_id: str) -> list[tuple[str, str]]:
    clock = iter(NOW + timedelta(seconds=s) for s in range(1000))
    runner.run(store, config(), run_id=f"r{next(clock)}", now=lambda: next(clock),
               detector_ids=[detector_id], rescan_all=True)  # fmt: skip
    return store.execute(
        "SELECT severity, evidence FROM alerts WHERE detector_id = ? ORDER BY 1", [detector_id]
    ).fetchall()


def _record(store, network: str, *, app: str | None = APP, days: int = 30) -> str:
    return queries.add_known_egress(
        store, network, app_name=app, expires_at=NOW + timedelta(days=days), analyst="ana",
        now=NOW - timedelta(days=1), note="the partner's new NAT",
    )  # fmt: skip


def test_off_allowlist_ip_honours_known_egress_of_the_app(store):
    insert_events(store, [refresh("2026-05-01T09:00:00", "198.51.100.9")])
    _record(store, "198.51.100.9", app="Another App")  # another app's egress proves nothing
    assert len(_alerts(store, "off_allowlist_ip")) == 1
    store.execute("DELETE FROM alerts")
    _record(store, "198.51.100.0/24")
    assert _alerts(store, "off_allowlist_ip") == []


def test_new_network_honours_known_egress(store):
    example = _example(new_network, "from a new network is medium")
    insert_events(store, example.events)
    assert len(_alerts(store, "new_network")) == 1
    store.execute("DELETE FROM alerts")
    _record(store, "198.51.100.77")
    assert _alerts(store, "new_network") == []


def test_impossible_travel_skips_a_pair_with_known_egress(store):
    example = _example(impossible_travel, "New York at 09:00 and from Sydney")
    insert_events(store, example.events)
    assert len(_alerts(store, "impossible_travel")) == 1
    store.execute("DELETE FROM alerts")
    _record(store, example.events[0]["source_ip"], app=None)  # the New York side of the pair
    assert _alerts(store, "impossible_travel") == []


def test_refresh_token_reuse_known_egress_is_not_outside_the_allowlist(store):
    example = _example(refresh_token_reuse, "outside the allowlist an hour later")
    insert_events(store, example.events)
    assert [severity for severity, _ in _alerts(store, "refresh_token_reuse")] == ["critical"]
    store.execute("DELETE FROM alerts")
    _record(store, "208.68.36.90")
    assert [severity for severity, _ in _alerts(store, "refresh_token_reuse")] == ["high"]


def test_refresh_token_reuse_two_known_egress_networks_are_one_network(store):
    from detect.detectors.refresh_token_reuse import _chain

    insert_events(store, [
        _chain("2026-05-01T09:00:00.000", "198.51.100.7", "g1", "g2", "w1"),
        _chain("2026-05-01T09:00:00.150", "192.0.2.7", "g1", "g2b", "w2"),
    ])  # fmt: skip
    [(severity, evidence)] = _alerts(store, "refresh_token_reuse")
    assert severity in ("high", "critical") and '"theft"' in evidence
    store.execute("DELETE FROM alerts")
    _record(store, "198.51.100.7")
    _record(store, "192.0.2.7")
    [(severity, evidence)] = _alerts(store, "refresh_token_reuse")
    assert severity == "low" and '"race"' in evidence


def test_expired_and_removed_entries_are_not_honoured(store):
    insert_events(store, [refresh("2026-05-01T09:00:00", "198.51.100.9")])
    queries.add_known_egress(store, "198.51.100.9", app_name=APP, analyst="ana",
                             now=NOW - timedelta(days=40), expires_at=NOW - timedelta(days=10))  # fmt: skip
    entry = _record(store, "198.51.100.0/24")
    assert queries.remove_known_egress(store, entry, analyst="bo", now=NOW)
    assert not queries.remove_known_egress(store, entry, analyst="bo", now=NOW)
    assert len(_alerts(store, "off_allowlist_ip")) == 1
    listing = queries.known_egress(store, NOW, include_inactive=True)
    assert sorted(listing["state"]) == ["expired", "removed"]
    assert queries.known_egress(store, NOW).empty


def test_config_known_egress_and_store_entries_merge(store):
    from ingest.config import AppConfig, Config
    from ingest.netlist import IpAllowlist

    cfg = Config(path=None, apps={APP: AppConfig(
        name=APP, consumer_key=None, allowlist=IpAllowlist.parse(["203.0.113.0/28"]),
        known_egress=IpAllowlist.parse(["192.0.2.0/24"]))})  # fmt: skip
    _record(store, "198.51.100.9", app=None)
    known = egress.load(store, cfg, NOW)
    assert known.covers("192.0.2.8", "acme SYNC") and not known.covers("192.0.2.8", "Other")
    assert known.covers("198.51.100.9", "Other") and known.covers("198.51.100.9")
    assert not known.covers(ALLOWED_IP) and not known.covers(None)


@pytest.mark.parametrize(
    ("network", "expires", "message"),
    [("not-an-ip", 1, "not an address"), ("10.0.0.1", -1, "future")],
)
def test_bad_entries_are_refused(store, network, expires, message):
    with pytest.raises(InputError, match=message):
        queries.add_known_egress(store, network, expires_at=NOW + timedelta(days=expires),
                                 analyst="ana", now=NOW)  # fmt: skip
    assert store.execute("SELECT count(*) FROM known_egress").fetchone() == (0,)


def test_cli_add_list_remove(tmp_path):
    path = tmp_path / "store.duckdb"
    base = ["--db", str(path)]
    with db.connect(path) as con:  # APP is seen in the store, so --app APP is accepted
        insert_events(con, [refresh("2026-05-01T09:00:00", ALLOWED_IP)])
    runner_ = CliRunner()
    added = runner_.invoke(cli, [*base, "egress", "add", "198.51.100.7", "--app", APP,
                                 "--days", "30", "--note", "=HYPERLINK(1)", "--analyst", "ana"])  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "would silence no open alert" in added.stderr  # the preview comes first
    egress_id = re.search(r"^([0-9a-f]{16}): ", added.stderr, re.M).group(1)
    listed = runner_.invoke(cli, [*base, "egress", "list", "--format", "json"])
    [entry] = __import__("json").loads(listed.stdout)
    assert (entry["network"], entry["app"], entry["added_by"]) == ("198.51.100.7", APP, "ana")
    csv_text = runner_.invoke(cli, [*base, "egress", "list", "--format", "csv"]).stdout
    assert "'=HYPERLINK(1)" in csv_text  # a spreadsheet shows it as text
    removed = runner_.invoke(cli, [*base, "egress", "remove", egress_id, "--analyst", "bo"])
    assert removed.exit_code == 0, removed.output
    assert runner_.invoke(cli, [*base, "egress", "remove", egress_id]).exit_code == 2
    with db.connect(path, read_only=True) as con:
        assert queries.known_egress(con, datetime(2100, 1, 1)).empty
    bad = runner_.invoke(cli, [*base, "egress", "add", "nope"])
    assert bad.exit_code == 2 and "nope" in bad.stderr
