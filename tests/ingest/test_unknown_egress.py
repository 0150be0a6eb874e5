"""A partner log whose egress is not configured (`egress_ip: ""`): it loads with an unknown
source IP, the token chain is still judged, and nothing alerts on the missing address.

The logs are written by the refresh helper itself (`ingest/refresh_helper`) against the fake
Salesforce over HTTPS, with no egress address configured."""

from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb
import pytest

from dashboard import queries
from detect.scope import UNKNOWN_EGRESS
from ingest.refresh_helper import ExchangeLog, FileTokenStore, ReauthorizationRequired
from sandbox.fakesf.server import FakeSalesforce

from .refresh_checks import MEDIUM_OR_ABOVE
from .refresh_support import KEY, ORG_ID, USER_ID, authorize, helper, judge
from .refresh_support import read_log as read_lines

NETWORK_DETECTORS = {"off_allowlist_ip", "new_network", "impossible_travel"}

pytestmark = pytest.mark.usefixtures("fp_key")  # the helper refuses to start without it


def unconfigured(fake: FakeSalesforce, folder: Path, log: Path, worker: str):
    """A helper whose ExchangeLog has no egress address (it warns, and logs `""`)."""
    with pytest.warns(UserWarning, match="cannot judge the network"):
        return helper(fake.url, str(fake.ca_path), folder, log, worker=worker, egress=None,
                      backoff_s=0.01)  # fmt: skip


def refresh_times(h, n: int) -> None:
    """`n` real refreshes: the access token is always too old."""
    h.max_access_age_s = 0.0
    for _ in range(n):
        h.access_token(KEY)
        time.sleep(0.01)


def store_of(folder: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(folder / "t.duckdb"), read_only=True)


def test_unconfigured_egress_loads_and_a_benign_rotation_chain_raises_nothing(fake, tmp_path):
    log = tmp_path / "tokens.jsonl"
    h = unconfigured(fake, tmp_path / "store", log, "w1")
    authorize(h, str(fake.ca_path))
    refresh_times(h, 3)
    lines = read_lines(log)
    assert [line["egress_ip"] for line in lines] == [""] * 4
    assert [line["outcome"] for line in lines] == ["success"] * 4

    report, alerts = judge(log, tmp_path)
    assert report["totals"]["rows_read"] == 4
    assert report["totals"]["rows_new"] == 4 and report["totals"]["rows_quarantined"] == 0
    assert not [a for a in alerts if a["severity"] in MEDIUM_OR_ABOVE], alerts
    assert not [a for a in alerts if a["detector"] in NETWORK_DETECTORS], alerts
    with store_of(tmp_path) as con:
        stored = con.execute(
            "SELECT count(*), count(source_ip), count(token_fp) FROM events "
            "WHERE event_type = 'token_exchange'"
        ).fetchone()
        assert stored == (4, 0, 3)  # loaded, source IP unknown, the chain's fingerprints kept
        assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)


def test_reuse_of_a_rotated_token_with_unknown_egress_is_still_reuse(fake, tmp_path):
    log, folder = tmp_path / "tokens.jsonl", tmp_path / "store"
    h = unconfigured(fake, folder, log, "w1")
    authorize(h, str(fake.ca_path))
    backup = FileTokenStore(folder).load(KEY)  # a copy of the store, as a backup holds it
    refresh_times(h, 2)  # g1 -> g2 -> g3: g1 is two generations old
    assert backup is not None
    FileTokenStore(folder).save(KEY, backup)  # a worker restored from the backup
    restored = unconfigured(fake, folder, log, "restored")
    with pytest.raises(ReauthorizationRequired):
        refresh_times(restored, 1)  # Salesforce refuses g1 and revokes the family
    assert fake.oauth.current_refresh_token(ORG_ID, USER_ID) is None
    lines = read_lines(log)
    assert [line["outcome"] for line in lines] == ["success"] * 3 + ["invalid_grant"]
    assert lines[1]["token_fp"] == lines[3]["token_fp"]

    report, alerts = judge(log, tmp_path)
    assert report["totals"]["rows_quarantined"] == 0
    reuse = [a for a in alerts if a["detector"] == "refresh_token_reuse"]
    assert len(reuse) == 1, alerts
    alert = reuse[0]
    assert alert["severity"] == "high"  # theft: never critical, the egress is unknown
    assert alert["evidence"]["classification"] == "theft"
    assert alert["evidence"]["older_generation"] is True
    assert alert["evidence"]["same_network"] is None  # unknown, not "another network"
    assert alert["ips"] == []  # nothing to pivot or link on
    assert alert["evidence"]["first"]["ip"] == alert["evidence"]["again"]["ip"] == UNKNOWN_EGRESS
    assert [w["worker"] for w in (alert["evidence"]["first"], alert["evidence"]["again"])] == [
        "w1", "restored"]  # fmt: skip
    assert f"by {UNKNOWN_EGRESS}" in alert["summary"]
    assert "another network" not in alert["summary"]
    assert not [a for a in alerts if a["detector"] in NETWORK_DETECTORS], alerts
    with store_of(tmp_path) as con:
        chain = queries.token_chain(con, "alert", alert["alert_id"])
        own = chain[chain["in_alert"].astype(bool)]
        assert list(own["ip"]) == [UNKNOWN_EGRESS] * 2  # the two presentations of the token
        assert set(chain["ip"]) == {UNKNOWN_EGRESS}  # and the partner's calls around them
        assert list(own["worker"]) == ["w1", "restored"]
        events = queries.evidence_events(con, "alert", alert["alert_id"])
        assert set(events["source_ip"]) == {UNKNOWN_EGRESS}
        linked = con.execute(
            "SELECT link FROM incident_alerts WHERE alert_id = ?", [alert["alert_id"]]
        ).fetchall()
        assert all(not str(link).startswith("ip:") for (link,) in linked)


def test_garbage_egress_is_still_quarantined_with_its_reason(tmp_path):
    log = tmp_path / "tokens.jsonl"
    with pytest.warns(UserWarning):
        writer = ExchangeLog(log, worker="w1")
    common = {"key_org": ORG_ID, "key_user": USER_ID, "app": KEY.app,
              "grant_type": "refresh_token", "outcome": "success"}  # fmt: skip
    writer.write(sent_at=1_790_000_000.0, token="g1", new_token="g2", **common)
    writer.write(sent_at=1_790_000_060.0, token="g2", new_token="g3", **common)
    writer.write(sent_at=1_790_000_120.0, token="g3", new_token="g4", **common)
    lines = read_lines(log)
    lines[1]["egress_ip"] = None  # null reads as unknown too
    lines[2]["egress_ip"] = "nat.partner.example"  # a partner's own mistake: not an address
    log.write_text("".join(json.dumps(line) + "\n" for line in lines))

    report, alerts = judge(log, tmp_path, import_exit=1)  # partial: one line quarantined
    assert report["files"][0]["status"] == "partial"
    assert report["totals"]["rows_new"] == 2 and report["totals"]["rows_quarantined"] == 1
    with store_of(tmp_path) as con:
        assert con.execute("SELECT line, reason FROM quarantine").fetchall() == [
            (3, "partner_token_log: egress_ip 'nat.partner.example' is not an IP address")
        ]
        assert con.execute(
            "SELECT count(*), count(source_ip) FROM events WHERE event_type = 'token_exchange'"
        ).fetchone() == (2, 0)
    assert not [a for a in alerts if a["severity"] in MEDIUM_OR_ABOVE], alerts


def test_a_dormant_token_woken_with_unknown_egress_is_still_high(tmp_path):
    log = tmp_path / "tokens.jsonl"
    with pytest.warns(UserWarning):
        writer = ExchangeLog(log, worker="w1")
    common = {"key_org": ORG_ID, "key_user": USER_ID, "app": KEY.app,
              "grant_type": "refresh_token", "outcome": "success"}  # fmt: skip
    day = 86_400.0
    start = 1_770_000_000.0  # February 2026: both calls in the past
    writer.write(sent_at=start, token="g1", new_token="g2", **common)
    writer.write(sent_at=start + 80 * day, token="g2", new_token="g3", **common)

    report, alerts = judge(log, tmp_path)
    assert report["totals"]["rows_new"] == 2 and report["totals"]["rows_quarantined"] == 0
    wakes = [a for a in alerts if a["detector"] == "idle_token"]
    assert [(a["severity"], a["evidence"]["new_network"]) for a in wakes] == [("high", False)]
    assert f"used from {UNKNOWN_EGRESS} after 80 days idle" in wakes[0]["summary"]
    assert not [a for a in alerts if a["detector"] in NETWORK_DETECTORS], alerts
    with store_of(tmp_path) as con:
        shown = queries.dormant_wakes(con, None)  # the Tokens page's table
        assert [list(ips) for ips in shown["ips"]] == [[UNKNOWN_EGRESS]]
