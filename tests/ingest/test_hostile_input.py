"""Nothing lost, nothing misread (issue 7): a broken line costs that line only, every rejected
row is its own quarantine entry and is counted, a source IP is an IP or Salesforce's marker,
and exports of non-login event types never become logins."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ingest.formats.records import login_history as normalize_login_history
from ingest.load import Loader
from ingest.source import normalize_page

from ..conftest import FIXED_NOW, REALWORLD
from .helpers import (
    counts,
    elf_login,
    envelope,
    login_history,
    run_import,
    write_elf,
    write_json,
)
from .test_import import partner_line

ORG15, ORG18 = "00D5g000004XyZa", "00D5g000004XyZaEAK"


# -- JSON Lines: a broken line, the first one included, costs that line only ---------------------


@pytest.mark.parametrize(
    "first_line",
    [
        partner_line()[:37],  # truncated mid-string: what a cut-off copy leaves
        '{"ts": "2026-11-01T09:29:00Z", "org_id": ',  # truncated mid-object
        "\x00\x00garbage that is not JSON",
        "",  # an empty first line
    ],
)
def test_a_broken_first_jsonl_line_quarantines_that_line_only(store, tmp_path, first_line):
    path = tmp_path / "partner.jsonl"
    path.write_text(
        "\n".join([first_line, partner_line(), partner_line(ts="2026-11-01T10:30:00Z"), "{broken"])
    )
    outcome = run_import(store, path).files[0]
    assert outcome.status == "partial", outcome.error
    assert outcome.result.rows_new == 2
    lines = [
        row[0] for row in store.execute("SELECT line FROM quarantine ORDER BY line").fetchall()
    ]
    assert lines == ([1, 4] if first_line else [4])
    assert store.execute("SELECT count(*) FROM events").fetchone()[0] == 2


def test_a_first_line_that_is_not_utf8_is_quarantined_alone(store, tmp_path):
    path = tmp_path / "partner.jsonl"
    path.write_bytes(b'{"ts": "\xff\xfe\x80"}\n' + partner_line().encode() + b"\n")
    outcome = run_import(store, path).files[0]
    assert (outcome.status, outcome.result.rows_new) == ("partial", 1)
    line, reason = store.execute("SELECT line, reason FROM quarantine").fetchone()
    assert line == 1 and reason.startswith("not UTF-8 text")


def test_a_file_with_no_json_line_at_all_still_fails_whole(store, tmp_path):
    path = tmp_path / "notes.jsonl"
    path.write_text("{not json\n{nor this\n")
    outcome = run_import(store, path).files[0]
    assert outcome.status == "failed" and "not valid JSON" in outcome.error


# -- each rejected row is one entry, and the run counts exactly the entries it wrote -------------


def _bad_inputs(tmp_path: Path) -> list[Path]:
    good = elf_login("20261101093000.500", "203.0.113.5")
    elf = write_elf(
        tmp_path / "Login.csv",
        [
            good,
            # Two rows with the same reason: two entries, never merged.
            {**good, "TIMESTAMP": "x", "TIMESTAMP_DERIVED": "", "LOGIN_KEY": "k2"},
            {**good, "TIMESTAMP": "x", "TIMESTAMP_DERIVED": "", "LOGIN_KEY": "k2"},
            {**good, "SOURCE_IP": "not-an-ip", "CLIENT_IP": "", "LOGIN_KEY": "k3"},
        ],
    )
    with elf.open("a") as handle:
        handle.write('"Login","20261101093002.000","short row"\n')
    elf_json = write_json(
        tmp_path / "elf.json",
        [
            {**good, "LOGIN_KEY": "j1", "TIMESTAMP": "bad", "TIMESTAMP_DERIVED": ""},
            {**good, "LOGIN_KEY": "j2", "ORGANIZATION_ID": "00Dbad"},
        ],
    )
    soql = write_json(
        tmp_path / "lh.json",
        envelope(
            [
                login_history("0Ya000000000001AAA", "2026-11-01T10:00:00", "198.51.100.7"),
                login_history("0Ya000000000002AAA", "never", "198.51.100.7"),
                login_history("0Ya000000000003AAA", "never", "198.51.100.7"),
                login_history("0Ya000000000004AAA", "2026-11-01T10:01:00", "10.0.0.999"),
            ]
        ),
    )
    loader_csv = tmp_path / "loginhistory.csv"
    loader_csv.write_text(
        '"ID","USERID","LOGINTIME","SOURCEIP","STATUS"\n'
        '"0Ya000000000009AAA","0055g00000AbCdEAAV","2026-11-01T10:00:00.000Z","198.51.100.7",'
        '"Success"\n'
        '"0Ya000000000010AAA","0055g00000AbCdEAAV"\n'
        '"0Ya000000000011AAA","0055g00000AbCdEAAV","2026-11-01T10:00:00.000Z","nope","Success"\n'
    )
    partner = tmp_path / "partner.jsonl"
    partner.write_text(
        "\n".join([partner_line()[:20], partner_line(), partner_line(egress_ip="1.2.3")])
    )
    return [elf, elf_json, soql, loader_csv, partner]


def test_each_run_counts_exactly_the_quarantine_entries_it_wrote(store, tmp_path):
    files = _bad_inputs(tmp_path)
    first = run_import(store, *files, org=ORG15, run_id="run-1")
    expected = {"Login.csv": 4, "elf.json": 2, "lh.json": 3, "loginhistory.csv": 2}
    expected["partner.jsonl"] = 2
    assert {f.path.name: f.result.rows_quarantined for f in first.files} == expected
    per_origin = dict(
        store.execute(
            "SELECT origin, count(*) FROM quarantine WHERE run_id = 'run-1' GROUP BY ALL"
        ).fetchall()
    )
    assert {Path(origin).name: n for origin, n in per_origin.items()} == expected
    runs = dict(
        store.execute(
            "SELECT unit_id, rows_quarantined FROM runs WHERE run_id = 'run-1'"
        ).fetchall()
    )
    assert {Path(unit).name: n for unit, n in runs.items()} == expected
    located = store.execute(
        "SELECT count(*) FROM quarantine WHERE line IS NULL AND record_index IS NULL"
    ).fetchone()[0]
    assert located == 0  # every entry names its line
    # Importing again writes no new entries, and says so.
    second = run_import(store, *files, org=ORG15, run_id="run-2")
    assert sum(f.result.rows_quarantined for f in second.files) == 0
    assert store.execute("SELECT count(*) FROM quarantine WHERE run_id = 'run-2'").fetchone() == (
        0,
    )


def test_rejects_of_an_api_page_are_located_by_record_index(store):
    page = [
        login_history("0Ya000000000001AAA", "2026-11-01T10:00:00", "198.51.100.7"),
        login_history("0Ya000000000002AAA", "never", "198.51.100.7"),
        login_history("0Ya000000000003AAA", "never", "198.51.100.7"),  # same reason, own entry
        login_history("0Ya000000000004AAA", "2026-11-01T10:00:00", "Salesforce.com IP"),
    ]
    batch = normalize_page(page, normalize_login_history, ORG18, "LoginHistory")
    assert len(batch.records) == 2
    loader = Loader(store, run_id="api", now=FIXED_NOW)
    assert loader.quarantine("salesforce:org", "salesforce:org", batch.problems) == 2
    assert store.execute(
        "SELECT line, record_index, reason FROM quarantine ORDER BY record_index"
    ).fetchall() == [
        (None, 1, "LoginHistory: LoginTime 'never.000+0000' is not a Salesforce date-time"),
        (None, 2, "LoginHistory: LoginTime 'never.000+0000' is not a Salesforce date-time"),
    ]


# -- source IPs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address", ["not-an-ip", "999.1.1.1", "10.0.0.1; DROP TABLE events", "2001:db8::zz", "1.2.3"]
)
def test_an_elf_source_ip_that_is_not_an_ip_is_quarantined(store, tmp_path, address):
    path = write_elf(
        tmp_path / "Login.csv",
        [
            elf_login("20261101093000.500", "203.0.113.5"),
            {**elf_login("20261101093001.500", address, key="k2"), "CLIENT_IP": ""},
        ],
    )
    outcome = run_import(store, path).files[0]
    assert (outcome.result.rows_new, outcome.result.rows_quarantined) == (1, 1)
    line, reason = store.execute("SELECT line, reason FROM quarantine").fetchone()
    assert line == 3
    assert 'is neither an IP address nor Salesforce\'s "Salesforce.com IP" marker' in reason
    assert store.execute("SELECT list(source_ip) FROM events").fetchone()[0] == ["203.0.113.5"]


def test_elf_marker_and_ipv6_spellings(store, tmp_path):
    rows = [
        elf_login("20261101093000.500", "Salesforce.com IP"),
        elf_login("20261101093001.500", "2001:DB8:0::1", key="k2"),
        elf_login("20261101093002.500", "::ffff:198.51.100.7", key="k3"),
    ]
    outcome = run_import(store, write_elf(tmp_path / "Login.csv", rows)).files[0]
    assert outcome.result.rows_quarantined == 0
    assert store.execute("SELECT source_ip FROM events ORDER BY occurred_at").fetchall() == [
        (None,),
        ("2001:db8::1",),
        ("198.51.100.7",),  # as the LoginHistory normalizer writes it, so the two merge
    ]


@pytest.mark.parametrize("kind", ["LoginHistory", "LoginEvent", "LogoutEvent"])
def test_a_soql_source_ip_that_is_not_an_ip_is_quarantined(store, tmp_path, kind):
    base = {
        "LoginHistory": {"LoginTime": "2026-11-01T10:00:00.000+0000", "LoginType": "Application"},
        "LoginEvent": {"EventDate": "2026-11-01T10:00:00.000+0000", "Status": "Success",
                       "EventIdentifier": "e-1"},
        "LogoutEvent": {"EventDate": "2026-11-01T10:00:00.000+0000", "EventIdentifier": "e-2",
                        "SessionKey": "s"},
    }[kind]  # fmt: skip
    records = [
        {"attributes": {"type": kind}, **base, "UserId": "0055g00000AbCdE", "SourceIp": ip}
        for ip in ("Salesforce.com IP", "bogus")
    ]
    records[1]["EventIdentifier"] = "e-3"
    run_import(store, write_json(tmp_path / "r.json", envelope(records)), org=ORG15)
    reason = store.execute("SELECT reason FROM quarantine").fetchone()[0]
    assert reason == (
        f"{kind}: SourceIp 'bogus' is neither an IP address nor Salesforce's \"Salesforce.com IP\""
    )
    assert store.execute("SELECT source_ip FROM events").fetchall() == [(None,)]


# -- non-login event types are never read as logins ----------------------------------------------


def _data_loader_csv(path: Path, header: list[str], row: list[str]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
        writer.writerow(header)
        writer.writerow(row)
    return path


def test_data_loader_csvs_of_other_event_types_are_not_logins(store, tmp_path):
    common = ["EventIdentifier", "EventDate", "UserId", "Username", "SourceIp", "SessionKey",
              "LoginKey"]  # fmt: skip
    values = ["e-{}", "2026-11-01T10:00:00.000Z", "0055g00000AbCdEAAV", "jo@acme.example",
              "198.51.100.7", "sess", "lk"]  # fmt: skip

    def export(name: str, extra: dict[str, str], number: int) -> Path:
        row = [values[0].format(number), *values[1:], *extra.values()]
        return _data_loader_csv(tmp_path / name, [*common, *extra], row)

    api = export("ApiEvent.csv", {"Query": "SELECT Id FROM Account", "RowsProcessed": "1",
                                  "Operation": "Query", "Application": "Data Loader"}, 1)  # fmt: skip
    logout = export("LogoutEvent.csv", {}, 2)
    login_as = export("LoginAsEvent.csv", {"DelegatedUsername": "admin@acme.example",
                                           "LoginType": "Application"}, 3)  # fmt: skip
    login = export("LoginEvent.csv", {"LoginType": "Remote Access 2.0", "Status": "Success"}, 4)
    summary = run_import(store, api, logout, login_as, login, org=ORG15)
    assert all(f.status == "ok" for f in summary.files), [f.error for f in summary.files]
    assert store.execute(
        "SELECT event_type, count(*) FROM events GROUP BY ALL ORDER BY 1"
    ).fetchall() == [
        ("login", 1),
        ("logout", 1),
    ]
    assert {row[0] for row in store.execute("SELECT source_id FROM raw_records").fetchall()} == {
        "soql:ApiEvent", "soql:LogoutEvent", "soql:LoginAsEvent", "soql:LoginEvent",
    }  # fmt: skip


def test_elf_csvs_of_other_event_types_are_not_logins(store, tmp_path):
    api = {
        **elf_login("20261101093000.500", "203.0.113.5"),
        "EVENT_TYPE": "API",
        "LOGIN_STATUS": "",
    }
    logout = {**elf_login("20261101093001.500", "203.0.113.5", key="k2"), "EVENT_TYPE": "Logout"}
    uri = {**elf_login("20261101093002.500", "203.0.113.5", key="k3"), "EVENT_TYPE": "URI"}
    run_import(store, write_elf(tmp_path / "Mixed.csv", [api, logout, uri]))
    assert store.execute("SELECT event_type FROM events ORDER BY occurred_at").fetchall() == [
        ("api_request",),
        ("logout",),
    ]
    assert counts(store)["raw_elf"] == 3


def test_realworld_logout_and_api_exports_make_no_login(store):
    samples = REALWORLD / "salesforce"
    paths = [
        samples / "elastic-integrations" / "mock-api" / "query-logoutevent.v56.json",
        samples / "elastic-integrations" / "pipeline-tests" / "logout" / "test-logout-object.log",
        samples
        / "elastic-integrations"
        / "mock-api"
        / "eventlogfile-0AT5j00002GWEsRGAX-Logout.csv",
        samples / "azure-sentinel" / "SalesforceServiceCloud_CL.part-A.json",
    ]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        pytest.skip(f"real-world samples absent ({missing[0]}); set TOKENSENTRY_SHARED")
    summary = run_import(store, *paths, org=ORG15)
    assert [f.status for f in summary.files if f.status == "failed"] == []
    kinds = dict(store.execute("SELECT event_type, count(*) FROM events GROUP BY ALL").fetchall())
    assert "login" not in kinds and kinds.get("logout", 0) >= 3
    assert counts(store)["raw_elf"] + counts(store)["raw_records"] >= 20
