"""App attribution from Salesforce's own files: the Login ELF has no app column.

Every org here delivers its evidence as exported files (Login, RestApi, BulkApi2 and
ApiTotalUsage event log files, OauthToken results) beside the partner's token log, imported
through the real normalizers. On the code before attribution, theft of the partner's tokens in
such orgs raised no off_allowlist_ip, no new_network and so no cross_org.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from detect import runner
from detect.testing import ALLOWED_IP, APP, config
from ingest.importer import import_paths
from ingest.sfid import to18

from ..conftest import FIXED_NOW
from .sf_files import (
    apitotalusage_row,
    bulkapi2_row,
    every,
    login_row,
    oauth_tokens,
    partner_line,
    restapi_row,
    write_elf,
    write_partner_log,
)

ORGS15 = ("00D5g000004XyZa", "00D5g000007PqRs", "00D5g00000InTeC")
USER15 = "0055g00000AbCdE"
HUMAN15 = "0055g00000HuMaN"
APP_ID15 = "0H45g000000SyNc"
EGRESS = (ALLOWED_IP, "2001:db8:10::25")
START = datetime(2026, 11, 1, 0, 0, 7)
ATTACK = datetime(2026, 11, 20, 2, 0, 0)


def integration_files(root: Path, org15: str, *, attacker_ip: str | None) -> list[Path]:
    """Three weeks of the partner's refreshes every two hours from two allowlisted regions, as
    Salesforce's Login ELF and the partner's token log record them; optionally a thief's
    refresh and session from `attacker_ip`."""
    org, user = to18(org15), to18(USER15)
    logins, lines = [], []
    for n, moment in enumerate(every(START, timedelta(hours=2), 19 * 12)):
        ip = EGRESS[n % 2]
        logins.append(login_row(moment, ip, org15=org15, user15=USER15, login_key=f"k{n}"))
        lines.append(partner_line(moment - timedelta(milliseconds=300), ip, org=org, user=user,
                                  token=f"{org}-g{n}", new_token=f"{org}-g{n + 1}"))  # fmt: skip
    api = []
    usage = [
        apitotalusage_row(moment + timedelta(seconds=2), EGRESS[0], org15=org15, user15=USER15,
                          app_id15=APP_ID15, app_name=APP)
        for moment in every(START, timedelta(days=1), 19)
    ]  # fmt: skip
    if attacker_ip:
        logins.append(login_row(ATTACK, attacker_ip, org15=org15, user15=USER15,
                                login_key="atk1", agent="python-requests/2.32.4"))  # fmt: skip
        api = [
            restapi_row(ATTACK + timedelta(seconds=5), attacker_ip, org15=org15,
                        user15=USER15, login_key="atk1", app_id15=APP_ID15),
        ]  # fmt: skip
    folder = root / org15
    files = [
        write_elf(folder / "Login.csv", "Login", logins),
        write_partner_log(folder / "partner.jsonl", lines),
        write_elf(folder / "ApiTotalUsage.csv", "ApiTotalUsage", usage),
    ]
    if api:
        files.append(write_elf(folder / "RestApi.csv", "RestApi", api))
    return files


def detect(con, cfg=None):
    return runner.run(con, cfg or config(), run_id="d1", now=lambda: FIXED_NOW, rescan_all=True)


def load(con, files: list[Path]) -> None:
    summary = import_paths(con, files, org_id=None, run_id="i1", now=lambda: FIXED_NOW)
    assert not summary.failed, [f.error for f in summary.files]


def alerts(con, detector: str) -> list[dict]:
    rows = con.execute(
        "SELECT severity, org_id, app_name, summary, evidence FROM alerts WHERE detector_id = ? "
        "ORDER BY org_id",
        [detector],
    ).fetchall()
    return [
        {"severity": s, "org_id": o, "app": a, "summary": t, "evidence": json.loads(e)}
        for s, o, a, t, e in rows
    ]


@pytest.fixture
def fleet(store, tmp_path):
    """Three orgs, each robbed from a different VPS within two hours; file evidence only."""
    files = []
    for i, org15 in enumerate(ORGS15):
        files += integration_files(tmp_path, org15, attacker_ip=f"208.68.36.{90 + i}")
    load(store, files)
    return store


def test_login_elf_rows_take_the_app_of_the_token_owner(fleet):
    rows = fleet.execute(
        "SELECT count(*), count(inferred_app), min(inferred_app), min(app_inferred_reason), "
        "min(app_confidence) FROM events WHERE event_type = 'login' AND login_key <> 'atk1'"
    ).fetchone()
    assert rows[1] == 0  # nothing inferred before the detect stage runs
    detect(fleet)
    total, inferred, app, reason, confidence = fleet.execute(
        "SELECT count(*), count(inferred_app), min(inferred_app), min(app_inferred_reason), "
        "min(app_confidence) FROM events WHERE event_type = 'login' AND login_key <> 'atk1'"
    ).fetchone()
    assert total == inferred == 3 * 19 * 12 and app == APP
    assert reason.startswith("token owner:") and "partner token log" in reason
    assert confidence == pytest.approx(0.8)


def test_the_session_names_the_app_through_apitotalusage_pairs(store, tmp_path):
    """A person's app-less login: no token evidence, but the session's RestApi calls carry the
    connected app id and ApiTotalUsage names it."""
    org15 = ORGS15[0]
    moment = datetime(2026, 11, 10, 9, 0, 0)
    kwargs = {"org15": org15, "user15": HUMAN15}
    files = [
        write_elf(tmp_path / "Login.csv", "Login", [
            login_row(moment, "198.51.100.40", login_key="hk1", sub="oauthuseragent", **kwargs)]),
        write_elf(tmp_path / "RestApi.csv", "RestApi", [
            restapi_row(moment + timedelta(seconds=3), "198.51.100.40", login_key="hk1",
                        app_id15="0H45g000000DaTa", **kwargs)]),
        write_elf(tmp_path / "BulkApi2.csv", "BulkApi2", [
            bulkapi2_row(moment + timedelta(seconds=9), "198.51.100.40", login_key="hk1",
                         job="7505g000000JoB1", **kwargs)]),
        write_elf(tmp_path / "ApiTotalUsage.csv", "ApiTotalUsage", [
            apitotalusage_row(moment - timedelta(days=2), "192.0.2.1", app_id15="0H45g000000DaTa",
                              app_name="Acme Reports", **kwargs)]),
    ]  # fmt: skip
    load(store, files)
    detect(store)
    app, reason, confidence = store.execute(
        "SELECT inferred_app, app_inferred_reason, app_confidence FROM events "
        "WHERE event_type = 'login'"
    ).fetchone()
    assert app == "Acme Reports" and reason.startswith("session:")
    assert confidence == pytest.approx(0.95)


def test_a_user_holding_tokens_for_two_apps_gets_no_guess(store, tmp_path):
    org15 = ORGS15[0]
    created = datetime(2026, 10, 1)
    files = [
        write_elf(tmp_path / "Login.csv", "Login", [
            login_row(datetime(2026, 11, 10, 9), "208.68.36.90", org15=org15, user15=USER15,
                      login_key="x1")]),
        oauth_tokens(tmp_path / "OauthToken.json", [
            (to18(USER15), APP, created, datetime(2026, 11, 9)),
            (to18(USER15), "Other Vendor Sync", created, datetime(2026, 11, 9))]),
    ]  # fmt: skip
    import_paths(store, files, org_id=to18(org15), run_id="i1", now=lambda: FIXED_NOW)
    detect(store)
    app, reason = store.execute(
        "SELECT inferred_app, app_inferred_reason FROM events WHERE event_type = 'login'"
    ).fetchone()
    assert app is None
    assert reason == f"ambiguous: the user holds refresh tokens for {APP}, Other Vendor Sync"
    assert alerts(store, "off_allowlist_ip") == []


def test_a_later_logged_app_name_replaces_the_inference(fleet, tmp_path):
    detect(fleet)
    org15 = ORGS15[0]
    record = {
        "attributes": {"type": "LoginHistory"}, "Id": "0Ya5g00000LoGiN",
        "UserId": USER15, "LoginTime": "2026-11-20T02:00:00.000+0000",
        "LoginType": "Remote Access 2.0", "LoginSubType": "OAuth Refresh Token",
        "SourceIp": "208.68.36.90", "Status": "Success", "Application": APP,
    }  # fmt: skip
    path = tmp_path / "LoginHistory.json"
    path.write_text(json.dumps({"totalSize": 1, "done": True, "records": [record]}))
    import_paths(fleet, [path], org_id=to18(org15), run_id="i2", now=lambda: FIXED_NOW)
    detect(fleet)
    row = fleet.execute(
        "SELECT app_name, inferred_app, app_inferred_reason, sources FROM events "
        "WHERE event_type = 'login' AND login_key = 'atk1' AND org_id = ?",
        [to18(org15)],
    ).fetchone()
    assert row[0] == APP and row[1] is None and row[2] is None
    assert sorted(row[3]) == ["elf:Login", "soql:LoginHistory"]


def test_theft_seen_only_in_app_less_logs_raises_allowlist_network_and_cross_org(fleet):
    """Fails before attribution: the thief's Login ELF rows carried no app name."""
    detect(fleet)
    off = alerts(fleet, "off_allowlist_ip")
    assert [(a["org_id"], a["severity"], a["app"]) for a in off] == [
        (to18(o), "high", APP) for o in sorted(ORGS15)
    ]
    for alert in off:
        assert "inferred" in alert["summary"]
        inferred = alert["evidence"]["app_inferred"]
        assert inferred["events"] == 1
        assert inferred["reasons"][0].startswith("session:")  # the thief's RestApi call
    network = alerts(fleet, "new_network")
    assert {(a["org_id"], a["severity"]) for a in network} == {(to18(o), "medium") for o in ORGS15}
    assert all("inferred" in a["summary"] for a in network)
    (wave,) = alerts(fleet, "cross_org")
    assert wave["severity"] == "critical" and wave["app"] == APP
    assert sorted(wave["evidence"]["orgs"]) == sorted(to18(o) for o in ORGS15)
    assert wave["evidence"]["alerts_on_inferred_app"] == 6  # off_allowlist_ip + new_network


def test_the_partners_own_refreshes_stay_quiet(store, tmp_path):
    files = []
    for org15 in ORGS15:
        files += integration_files(tmp_path, org15, attacker_ip=None)
    load(store, files)
    detect(store)
    loud = store.execute(
        "SELECT detector_id, severity, summary FROM alerts "
        "WHERE severity IN ('medium', 'high', 'critical')"
    ).fetchall()
    assert loud == []


def test_real_login_elf_keeps_its_login_key_and_a_persons_ui_login_gets_no_app(
    store, tmp_path, realworld
):
    """Elastic's copy of a real Login ELF file: the LOGIN_KEY lands in events, the session's
    RestApi call names the app; the same person's token for one app never makes their browser
    login (no OAuth login type) that app's."""
    sample = (
        realworld / "salesforce" / "elastic-integrations" / "mock-api"
        / "eventlogfile-0AT5j00002GVrfnGAD-Login.csv"
    )  # fmt: skip
    org15, user15 = "00D5j000000VI3n", "0055j000000utlP"
    tokens = oauth_tokens(
        tmp_path / "OauthToken.json",
        [(to18(user15), APP, datetime(2022, 10, 1), datetime(2022, 11, 21))],
    )
    load(store, [sample])
    import_paths(store, [tokens], org_id=to18(org15), run_id="i2", now=lambda: FIXED_NOW)
    detect(store)
    row = store.execute(
        "SELECT login_key, login_type, inferred_app, app_inferred_reason FROM events "
        "WHERE event_type = 'login'"
    ).fetchone()
    assert row == ("QfNecrLXSII6fsBq", None, None, None)
    # The same session's REST calls carry a connected app id the OAuth Usage inventory names.
    moment = datetime(2022, 11, 22, 4, 46, 20)
    rest = write_elf(tmp_path / "RestApi.csv", "RestApi", [
        restapi_row(moment, "81.2.69.142", org15=org15, user15=user15,
                    login_key="QfNecrLXSII6fsBq", app_id15="0H45j000000AbCd")])  # fmt: skip
    usage = tmp_path / "usage.json"
    usage.write_text(json.dumps([{
        "attributes": {"type": "OAuthUsageToken"}, "appName": "Acme Console",
        "appIdentifier": "0H45j000000AbCd", "userIdentifier": user15,
        "initialConnectionAt": "2022-10-01T00:00:00.000Z",
        "lastUsedAt": "2022-11-22T04:46:20.000Z", "useCount": 3,
    }]))  # fmt: skip
    import_paths(store, [rest, usage], org_id=to18(org15), run_id="i3", now=lambda: FIXED_NOW)
    detect(store)
    app, reason = store.execute(
        "SELECT inferred_app, app_inferred_reason FROM events WHERE event_type = 'login'"
    ).fetchone()
    assert app == "Acme Console" and reason.startswith("session:")


def test_a_persons_phone_app_is_not_taken_for_the_partners_app(store, tmp_path):
    """A person authorised the partner's app (the partner's log shows it) and also refreshes
    Salesforce's own mobile app, whose tokens nobody exported. A colleague's phone, seen on
    the one day of LoginHistory export, ties the phone's client to Salesforce for iOS; the
    person's phone refreshes from carrier networks get no guess, and no allowlist alert."""
    from ..ingest.helpers import envelope, login_history, write_json

    org15, org = ORGS15[0], to18(ORGS15[0])
    phone = "SalesforceMobileSDK/11.1.0 iOS/17.4 (iPhone)"
    colleague = "0055g00000CoLlE"
    lines, elf, history = [], [], []
    for d in range(6):
        partner_at = datetime(2026, 11, 10 + d, 9, 0, 0)
        lines.append(partner_line(partner_at, ALLOWED_IP, org=org, user=to18(HUMAN15),
                                  token=f"h{d}", new_token=f"h{d + 1}"))  # fmt: skip
        elf.append(login_row(partner_at + timedelta(milliseconds=200), ALLOWED_IP, org15=org15,
                             user15=HUMAN15, login_key=f"p{d}"))  # fmt: skip
        for h in (12, 15, 18, 21):
            at, ip = datetime(2026, 11, 10 + d, h, 0, 0), f"100.{64 + d}.{h}.9"
            elf.append(login_row(at, ip, org15=org15, user15=HUMAN15, login_key=f"m{d}{h}",
                                 agent=phone))  # fmt: skip
    for h in (8, 10, 13, 17):  # the colleague's phone, the one day LoginHistory was exported
        at, ip = datetime(2026, 11, 10, h, 30, 0), f"100.90.{h}.4"
        elf.append(login_row(at, ip, org15=org15, user15=colleague, login_key=f"c{h}",
                             agent=phone))  # fmt: skip
        history.append(login_history(f"0Ya5g00000C{h:04d}", f"{at:%Y-%m-%dT%H:%M:%S}", ip,
                                     user=colleague, app="Salesforce for iOS"))  # fmt: skip
    files = [
        write_partner_log(tmp_path / "partner.jsonl", lines),
        write_elf(tmp_path / "Login.csv", "Login", elf),
        write_json(tmp_path / "LoginHistory.json", envelope(history)),
    ]
    import_paths(store, files, org_id=org, run_id="i1", now=lambda: FIXED_NOW)
    detect(store)
    rows = store.execute(
        "SELECT user_agent, count(*), list(DISTINCT inferred_app), "
        "list(DISTINCT split_part(app_inferred_reason, ':', 1)) FROM events "
        "WHERE event_type = 'login' AND app_name IS NULL GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("Java/17.0.9", 6, [APP], ["token owner"]),
        (phone, 24, [None], ["ambiguous"]),
    ]
    (reason,) = store.execute(
        "SELECT DISTINCT app_inferred_reason FROM events WHERE user_agent = ? AND app_name IS NULL",
        [phone],
    ).fetchone()
    assert f"tokens for {APP} only" in reason and "Salesforce for iOS" in reason
    assert alerts(store, "off_allowlist_ip") == []
