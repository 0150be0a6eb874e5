"""Scope: the allowlist, network and reuse detectors judge the partner's own apps only.

One org's LoginHistory export (the REST API's JSON) and ApiTotalUsage file, imported through
the real normalizers, with the partner's apps beside Salesforce's own mobile app and another
vendor's integration. Before scoping, every app that refreshed from a new home or carrier
network raised a medium alert.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from detect import runner
from ingest import config as config_module
from ingest.importer import import_paths
from ingest.sfid import to18

from ..conftest import FIXED_NOW
from ..ingest.helpers import envelope, login_history, write_json
from .sf_files import apitotalusage_row, every, write_elf

ORG15 = "00D5g000004XyZa"
PARTNER_USER, REPORTS_USER = "0055g00000AbCdE", "0055g00000RePoR"
PEOPLE = ("0055g00000PeOp1", "0055g00000PeOp2")
VENDOR_USER = "0055g00000VeNdR"
START = datetime(2026, 11, 1, 0, 0, 11)

CONFIG = """
[apps."Acme Sync"]
allowlist = ["203.0.113.0/28", "2001:db8:10::/48"]

[apps."Acme Reports"]            # the partner's second app: no allowlist yet
consumer_key = "3MVG9AcmeReports"
"""


def _records() -> list[dict]:
    records = []

    def add(at: datetime, ip: str, **fields) -> None:
        stamp = f"{at:%Y-%m-%dT%H:%M:%S}"
        records.append(login_history(f"0Ya5g0000{len(records):06d}", stamp, ip, **fields))

    for n, at in enumerate(every(START, timedelta(hours=4), 6 * 26)):
        add(at, "203.0.113.5" if n % 2 else "2001:db8:10::25", user=PARTNER_USER)
        add(at + timedelta(minutes=7), "192.0.2.10", user=REPORTS_USER, app="Acme Reports")
        add(at + timedelta(minutes=9), "198.51.100.20", user=VENDOR_USER,
            app="Other Vendor Sync")  # fmt: skip
    # People on their phones: a home network for two weeks, then carrier networks all over.
    for d in range(26):
        for i, person in enumerate(PEOPLE):
            ip = f"100.{64 + d}.{i}.17" if d >= 15 else f"81.2.{69 + i}.142"
            add(START + timedelta(days=d, hours=8 + i), ip, user=person,
                app="Salesforce for iOS")  # fmt: skip
    # Another vendor's integration moves to a new network, and once refreshes from two
    # networks 40 s apart before its family is revoked: not the partner's to judge.
    late = START + timedelta(days=20)
    add(late, "198.51.100.20", user=VENDOR_USER, app="Other Vendor Sync")
    add(late + timedelta(seconds=40), "45.83.2.10", user=VENDOR_USER, app="Other Vendor Sync")
    add(late + timedelta(minutes=5), "198.51.100.20", user=VENDOR_USER, app="Other Vendor Sync",
        status="Failed: Invalid Token")  # fmt: skip
    # The partner's second app refreshes from a network it never used.
    add(START + timedelta(days=21), "203.0.113.200", user=REPORTS_USER, app="Acme Reports")
    return records


def test_only_the_partners_apps_are_judged_and_iocs_watch_every_app(store, tmp_path):
    """Fails on the code before scoping: Salesforce for iOS and Other Vendor Sync raised
    new_network and refresh_token_reuse alerts (medium)."""
    (tmp_path / "tokensentry.toml").write_text(CONFIG)
    cfg = config_module.load(tmp_path / "tokensentry.toml", required=True)
    fetcher = apitotalusage_row(
        START + timedelta(days=22), "52.20.1.9", org15=ORG15, user15=VENDOR_USER,
        app_id15="0H45g000000VnDr", app_name="Other Vendor Sync",
    )  # fmt: skip
    fetcher["CLIENT_NAME"] = "Salesforce-Multi-Org-Fetcher/1.0"
    files = [
        write_json(tmp_path / "LoginHistory.json", envelope(_records())),
        write_elf(tmp_path / "ApiTotalUsage.csv", "ApiTotalUsage", [fetcher]),
    ]
    summary = import_paths(store, files, org_id=to18(ORG15), run_id="i1", now=lambda: FIXED_NOW)
    assert not summary.failed
    runner.run(store, cfg, run_id="d1", now=lambda: FIXED_NOW, rescan_all=True)
    loud = store.execute(
        "SELECT detector_id, severity, app_name FROM alerts "
        "WHERE severity IN ('medium', 'high', 'critical') ORDER BY detector_id"
    ).fetchall()
    assert loud == [
        ("new_network", "medium", "Acme Reports"),  # in [apps] without an allowlist: watched
        ("suspicious_client", "critical", "Other Vendor Sync"),  # IOCs watch every app
    ]
    # ...but an [apps] entry without an allowlist is never judged by off_allowlist_ip.
    assert store.execute(
        "SELECT count(*) FROM alerts WHERE detector_id = 'off_allowlist_ip'"
    ).fetchone() == (0,)


def test_the_partners_log_makes_an_app_the_partners_own_without_config(store, tmp_path):
    """An unconfigured deployment still judges the apps the partner's own log names."""
    from .sf_files import partner_line, write_partner_log

    org, user = to18(ORG15), to18(PARTNER_USER)
    lines = [
        partner_line(at, "203.0.113.5", org=org, user=user, token=f"g{n}", new_token=f"g{n + 1}")
        for n, at in enumerate(every(START, timedelta(hours=4), 6 * 16))
    ]
    lines.append(partner_line(START + timedelta(days=17), "198.51.100.90", org=org, user=user,
                              token="g96", new_token="g97"))  # fmt: skip
    path = write_partner_log(tmp_path / "partner.jsonl", lines)
    import_paths(store, [path], org_id=None, run_id="i1", now=lambda: FIXED_NOW)
    runner.run(
        store, config_module.Config(path=None), run_id="d1", now=lambda: FIXED_NOW,
        rescan_all=True,
    )  # fmt: skip
    assert store.execute(
        "SELECT detector_id, severity FROM alerts WHERE severity <> 'info'"
    ).fetchall() == [("new_network", "medium")]
