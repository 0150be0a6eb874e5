"""`import` of every format: idempotent, quarantining, merging one login across sources."""

from __future__ import annotations

import json

import pytest

from .helpers import (
    counts,
    elf_login,
    envelope,
    login_history,
    run_import,
    write_elf,
    write_json,
)

ORG15, ORG18 = "00D5g000004XyZa", "00D5g000004XyZaEAK"


def partner_line(**overrides):
    line = {
        "ts": "2026-11-01T09:30:00.120Z",
        "org_id": ORG15,
        "app": "Acme Sync",
        "user_id": "0055g00000AbCdE",
        "grant_type": "refresh_token",
        "token_fp": "fp-1",
        "new_token_fp": "fp-2",
        "egress_ip": "203.0.113.5",
        "worker": "w1",
        "outcome": "success",
        "error_description": None,
        "pkce": None,
    }
    line.update(overrides)
    return json.dumps(line)


def test_every_format_imported_twice_equals_once(store, tmp_path):
    elf = write_elf(tmp_path / "Login.csv", [elf_login("20261101093000.500", "203.0.113.5")])
    history = write_json(
        tmp_path / "lh.json",
        envelope([login_history("0Ya000000000001AAA", "2026-11-01T10:00:00", "198.51.100.7")]),
    )
    partner = tmp_path / "partner.jsonl"
    partner.write_text(partner_line() + "\n" + partner_line(ts="2026-11-01T10:30:00Z") + "\n")
    tokens = write_json(
        tmp_path / "tokens.json",
        envelope(
            [
                {
                    "attributes": {"type": "OauthToken"},
                    "AppName": "Acme Sync",
                    "UserId": "0055g00000AbCdE",
                    "CreatedDate": "2026-10-01T00:00:00.000+0000",
                    "LastUsedDate": "2026-11-01T00:00:00.000+0000",
                    "UseCount": 40,
                    "DeleteToken": "SECRET-DELETE-TOKEN",
                }
            ]
        ),
    )
    first = run_import(store, elf, history, partner, tokens, org=ORG15)
    after_first = counts(store)
    second = run_import(store, elf, history, partner, tokens, org=ORG15, run_id="run-2")
    assert counts(store) == after_first
    assert after_first["events"] == 5 and after_first["quarantine"] == 0
    assert first.totals.rows_new == 5 and second.totals.rows_new == 0
    assert second.totals.events_new == 0 and second.totals.events_enriched == 0
    assert not first.failed and not second.failed


def test_elf_csv_quarantines_bad_rows_with_their_lines(store, tmp_path):
    good = elf_login("20261101093000.500", "203.0.113.5")
    path = tmp_path / "Login.csv"
    write_elf(
        path,
        [
            good,
            {**good, "TIMESTAMP": "yesterday", "TIMESTAMP_DERIVED": "", "LOGIN_KEY": "k2"},
            {**good, "ORGANIZATION_ID": "00Dnope", "LOGIN_KEY": "k3"},
            {
                **good,
                "LOGIN_KEY": "k4",
                "TIMESTAMP": "20261101093001.000",
                "TIMESTAMP_DERIVED": "2026-11-01T09:30:01.000Z",
            },
        ],
    )
    with path.open("a") as handle:
        handle.write('"Login","20261101093002.000","short row"\n')
    summary = run_import(store, path)
    outcome = summary.files[0]
    assert outcome.status == "partial"
    assert (outcome.result.rows_read, outcome.result.rows_new) == (5, 2)
    assert outcome.result.rows_quarantined == 3
    rows = store.execute("SELECT line, reason FROM quarantine ORDER BY line").fetchall()
    assert [line for line, _ in rows] == [3, 4, 6]
    assert "TIMESTAMP 'yesterday' is not a Salesforce timestamp" in rows[0][1]
    assert "ORGANIZATION_ID '00Dnope' is not a 15- or 18-character" in rows[1][1]
    assert rows[2][1].startswith("MISSING COLUMNS")
    assert store.execute("SELECT count(*) FROM events").fetchone()[0] == 2


def test_partner_log_quarantines_each_bad_line(store, tmp_path):
    path = tmp_path / "token-exchange.jsonl"
    path.write_text(
        "\n".join(
            [
                partner_line(),
                "{not json",
                partner_line(grant_type="password"),
                partner_line(egress_ip="not-an-ip"),
                partner_line(org_id="00D"),
                partner_line(
                    ts="2026-11-01T09:31:00Z",
                    outcome="invalid_grant",
                    error_description="expired access/refresh token",
                ),
            ]
        )
    )
    summary = run_import(store, path)
    reasons = dict(store.execute("SELECT line, reason FROM quarantine").fetchall())
    assert sorted(reasons) == [2, 3, 4, 5]
    assert reasons[2].startswith("invalid JSON")
    assert "grant_type 'password' is not one of" in reasons[3]
    assert "egress_ip 'not-an-ip' is not an IP address" in reasons[4]
    assert "org_id '00D' is not" in reasons[5]
    assert summary.totals.rows_new == 2 and summary.files[0].status == "partial"
    assert store.execute(
        "SELECT org_id, grant_type, is_success, source_ip FROM events ORDER BY occurred_at"
    ).fetchall() == [
        (ORG18, "refresh_token", True, "203.0.113.5"),
        (ORG18, "refresh_token", False, "203.0.113.5"),
    ]


def test_json_array_quarantine_names_the_record_line(store, tmp_path):
    records = [
        login_history("0Ya000000000001AAA", "2026-11-01T10:00:00", "198.51.100.7"),
        {
            **login_history("0Ya000000000002AAA", "2026-11-01T10:01:00", "198.51.100.7"),
            "LoginTime": "soon",
        },
    ]
    path = write_json(tmp_path / "lh.json", records)
    run_import(store, path, org=ORG15)
    line, reason = store.execute("SELECT line, reason FROM quarantine").fetchone()
    record_starts = [n for n, text in enumerate(path.read_text().splitlines(), 1) if text == "  {"]
    assert line == record_starts[1]
    assert reason == "LoginHistory: LoginTime 'soon' is not a Salesforce date-time"


def test_soql_file_without_org_fails_with_a_clear_error(store, tmp_path):
    path = write_json(
        tmp_path / "lh.json",
        envelope([login_history("0Ya000000000001AAA", "2026-11-01T10:00:00", "198.51.100.7")]),
    )
    outcome = run_import(store, path).files[0]
    assert outcome.status == "failed"
    assert "LoginHistory records carry no org id; re-run with --org" in outcome.error
    assert counts(store)["raw_records"] == 0


def test_unknown_format_fails_alone(store, tmp_path):
    junk = tmp_path / "a-notes.txt"
    junk.write_text("hello\nworld\n")
    good = write_elf(tmp_path / "b-Login.csv", [elf_login("20261101093000.500", "203.0.113.5")])
    summary = run_import(store, junk, good)
    assert [f.status for f in summary.files] == ["failed", "ok"]
    assert "not a format tokensentry reads" in summary.files[0].error


def test_data_loader_csv_with_upper_case_headers(store, tmp_path):
    path = tmp_path / "loginhistory.csv"
    path.write_text(
        '"ID","USERID","LOGINTIME","LOGINTYPE","LOGINSUBTYPE","SOURCEIP","STATUS","APPLICATION",'
        '"LOGINGEO.LATITUDE","LOGINGEO.LONGITUDE","LOGINGEO.CITY"\n'
        '"0Ya000000000009AAA","0055g00000AbCdEAAV","2026-11-01T10:00:00.000Z","Remote Access 2.0",'
        '"OauthRefreshToken","198.51.100.7","Success","Acme Sync","51.5142","-0.0931","London"\n'
    )
    run_import(store, path, org=ORG15)
    row = store.execute(
        "SELECT grant_type, app_name, city, latitude, login_history_id FROM events"
    ).fetchone()
    assert row == ("refresh_token", "Acme Sync", "London", 51.5142, "0Ya000000000009AAA")


@pytest.mark.parametrize(
    "spelling", ["OauthRefreshToken", "OAuth Refresh Token", "oauthrefreshtoken"]
)
def test_refresh_token_recognised_in_every_spelling(store, tmp_path, spelling):
    path = write_json(
        tmp_path / "lh.json",
        envelope(
            [
                login_history(
                    "0Ya000000000001AAA", "2026-11-01T10:00:00", "198.51.100.7", sub=spelling
                )
            ]
        ),
    )
    run_import(store, path, org=ORG15)
    assert store.execute("SELECT grant_type, login_sub_type FROM events").fetchone() == (
        "refresh_token",
        "OAuth Refresh Token",
    )


def test_elf_login_type_code_i_is_remote_access(store, tmp_path):
    path = write_elf(
        tmp_path / "Login.csv", [elf_login("20261101093000.500", "203.0.113.5", sub="")]
    )
    run_import(store, path)
    assert store.execute("SELECT login_type, grant_type FROM events").fetchone() == (
        "Remote Access 2.0",
        "oauth_unspecified",
    )


def test_secrets_never_reach_the_database(tmp_path):
    from ingest import db

    db_path = tmp_path / "store.duckdb"
    tokens = write_json(
        tmp_path / "tokens.json",
        envelope(
            [
                {
                    "attributes": {"type": "OauthToken"},
                    "AppName": "Acme Sync",
                    "UserId": "0055g00000AbCdE",
                    "LastUsedDate": "2026-11-01T00:00:00.000+0000",
                    "UseCount": 3,
                    "DeleteToken": "DELETE-TOKEN-5ecret",
                    "AccessToken": "ACCESS-TOKEN-5ecret",
                }
            ]
        ),
    )
    partner = tmp_path / "p.jsonl"
    partner.write_text(partner_line(refresh_token="5Aep861-REFRESH-5ecret") + "\n")
    with db.connect(db_path) as con:
        run_import(con, tokens, partner, org=ORG15)
        con.execute("CHECKPOINT")
    blob = db_path.read_bytes()
    for secret in (b"DELETE-TOKEN-5ecret", b"ACCESS-TOKEN-5ecret", b"REFRESH-5ecret"):
        assert secret not in blob
    assert b"DeleteToken" in blob and b"refresh_token" in blob  # names kept, values not
