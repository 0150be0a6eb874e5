"""No secret reaches the store, a run's error, the CLI's output or an export (issue 7).

Secrets are planted in every shape (by field name in many spellings, and token-shaped strings
inside free text) across every input format and every write path: valid rows, quarantined
rows, rejected CSV lines, broken JSON lines, failed files. Then the DuckDB file's bytes and
its WAL are searched. A non-secret marker planted next to each secret is the positive
control: the same search must find every marker, or the search proves nothing.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.cli import cli
from ingest import db
from ingest.formats.redact import redact
from ingest.load import Loader, StagedRecord
from ingest.source import normalize_page

from ..conftest import FIXED_NOW, REALWORLD
from .helpers import (
    ELF_LOGIN_HEADER,
    elf_login,
    envelope,
    login_history,
    run_import,
    write_json,
)
from .secret_plants import BEARER, FREE_TEXT, JWT, LEAKS, NAMED, REFRESH_TOKEN, SESSION_ID, marker

ORG15 = "00D5g000004XyZa"


def _elf_files(tmp_path: Path) -> list[Path]:
    # The last column's name is itself a token: a header must not become a stored name.
    header = [*ELF_LOGIN_HEADER, "ACCESS_TOKEN", "Refresh_Token__c", f"X_{REFRESH_TOKEN}"]
    good = {
        **elf_login("20261101093000.500", "203.0.113.5"),
        "URI": f"/services/oauth2/token?{FREE_TEXT}",
        "BROWSER_TYPE": f"{marker('ElfAgent')} Bearer {BEARER}",
        "ACCESS_TOKEN": NAMED["AccessToken"],
        "Refresh_Token__c": NAMED["refresh-token"],
        f"X_{REFRESH_TOKEN}": "1",
    }
    bad = {**good, "TIMESTAMP": "not-a-time", "TIMESTAMP_DERIVED": "", "LOGIN_KEY": "k2"}
    bad["USER_NAME"] = marker("ElfQuarantine")
    path = tmp_path / "Login.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows([good, bad])
        # A line DuckDB cannot split into the header's columns (its reject path): one value
        # too many, the secrets where the header says a token goes and past the last column.
        rejected = {**good, "USER_NAME": marker("ElfReject"), "ACCESS_TOKEN": NAMED["DeleteToken"]}
        values = [*(rejected[name] for name in header), SESSION_ID]
        handle.write(",".join(f'"{value}"' for value in values) + "\n")
    elf_json = tmp_path / "elf-rows.json"
    elf_json.write_text(
        json.dumps(
            [
                {
                    **elf_login("20261101093500.500", "203.0.113.6", key="k9"),
                    "BROWSER_TYPE": f"{marker('ElfJson')} {JWT}",
                    "SESSION_TOKEN": NAMED["RequestToken"],
                }
            ]
        )
    )
    return [path, elf_json]


def _soql_files(tmp_path: Path) -> list[Path]:
    token = {
        "attributes": {"type": "OauthToken"},
        "AppName": marker("OauthApp"),
        "UserId": "0055g00000AbCdE",
        "CreatedDate": "2026-10-01T00:00:00.000+0000",
        "LastUsedDate": "2026-11-01T00:00:00.000+0000",
        "UseCount": 3,
        **{name: value for name, value in NAMED.items()},
    }
    history = login_history("0Ya000000000001AAA", "2026-11-01T10:00:00", "198.51.100.7")
    history.update({"Browser": f"{marker('LoginHistory')} {FREE_TEXT}", "Auth": {"jwt": JWT}})
    broken = login_history("0Ya000000000002AAA", "soon", "198.51.100.7")
    broken.update({"Browser": marker("SoqlQuarantine"), "AccessToken": SESSION_ID})
    bad_ip = login_history("0Ya000000000003AAA", "2026-11-01T10:05:00", REFRESH_TOKEN)
    soql = write_json(tmp_path / "soql.json", envelope([token, history, broken, bad_ip]))
    loader_csv = tmp_path / "oauthtoken.csv"
    loader_csv.write_text(
        '"APPNAME","USERID","CREATEDDATE","LASTUSEDDATE","USECOUNT","DELETETOKEN"\n'
        f'"{marker("LoaderCsv")}","0055g00000AbCdE","2026-10-01T00:00:00.000Z",'
        f'"2026-11-02T00:00:00.000Z","4","{NAMED["DeleteToken"]}"\n'
        # One value too many: quarantined, its values paired with the header's names.
        f'"{marker("LoaderCsvReject")}","0055g00000AbCdE","2026-10-01T00:00:00.000Z",'
        f'"2026-11-02T00:00:00.000Z","5","{NAMED["AccessToken"]}","{SESSION_ID}"\n'
    )
    return [soql, loader_csv]


def _partner_file(tmp_path: Path) -> Path:
    line = {
        "ts": "2026-11-01T09:30:00.120Z",
        "org_id": ORG15,
        "app": marker("PartnerApp"),
        "user_id": "0055g00000AbCdE",
        "grant_type": "refresh_token",
        "token_fp": "fp-1",
        "new_token_fp": "fp-2",
        "egress_ip": "203.0.113.5",
        "worker": "w1",
        "outcome": "invalid_grant",
        "error_description": FREE_TEXT,
        "pkce": None,
        "refresh_token": REFRESH_TOKEN,
        "Password": NAMED["ns__Password__c"],
    }
    truncated = json.dumps({**line, "app": marker("PartnerBroken")})[:-40]
    rejected = {**line, "grant_type": "password", "app": marker("PartnerReject")}
    path = tmp_path / "partner.jsonl"
    path.write_text(f"{truncated}\n{json.dumps(line)}\n{json.dumps(rejected)}\n")
    return path


def _failing_file(tmp_path: Path) -> Path:
    """Not a format tokensentry reads: its error quotes the first line into runs.error."""
    path = tmp_path / "notes.txt"
    path.write_text(f"{marker('FailedRun')} Authorization: Bearer {SESSION_ID}\nmore\n")
    return path


def _assert_clean(blob: bytes, where: str, markers: list[str]) -> None:
    found = [leak for leak in LEAKS if leak.encode() in blob]
    assert not found, f"secrets in {where}: {found}"
    missing = [m for m in markers if m.encode() not in blob]
    assert not missing, f"the search of {where} cannot see planted markers {missing}"


def test_no_secret_in_the_database_file_or_its_wal(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    files = [
        *_elf_files(inputs),
        *_soql_files(inputs),
        _partner_file(inputs),
        _failing_file(inputs),
    ]
    db_path = tmp_path / "store.duckdb"
    wal = db_path.with_name("store.duckdb.wal")
    with db.connect(db_path) as con:
        # Stored uncompressed, so a byte search sees every string that was written.
        con.execute("SET force_compression = 'uncompressed'")
        summary = run_import(con, *files, org=ORG15)
        wal_blob = wal.read_bytes()
        statuses = {outcome.path.name: outcome.status for outcome in summary.files}
        quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
        con.execute("CHECKPOINT")
    assert statuses["notes.txt"] == "failed" and statuses["Login.csv"] == "partial"
    assert quarantined >= 7  # ELF bad row + reject, SOQL x2, loader CSV, partner x2
    everywhere = [
        marker(name)
        for name in (
            "ElfAgent", "ElfQuarantine", "ElfReject", "ElfJson", "OauthApp", "LoginHistory",
            "SoqlQuarantine", "LoaderCsv", "LoaderCsvReject", "PartnerApp", "PartnerBroken",
            "PartnerReject", "FailedRun",
        )
    ]  # fmt: skip
    _assert_clean(wal_blob, "the WAL", everywhere)
    _assert_clean(db_path.read_bytes(), "the database file", everywhere)


def test_no_secret_in_cli_output_or_exports(tmp_path):
    files = [*_elf_files(tmp_path), *_soql_files(tmp_path), _partner_file(tmp_path)]
    files.append(_failing_file(tmp_path))
    db_path = tmp_path / "store.duckdb"
    runner = CliRunner()
    config = tmp_path / "tokensentry.toml"
    config.write_text("")  # no orgs: import, detect and alerts need none
    args = ["--db", str(db_path), "--config", str(config)]
    outputs = []
    for fmt in ("table", "json"):
        result = runner.invoke(
            cli, [*args, "import", "--org", ORG15, "--format", fmt, *map(str, files)]
        )
        assert result.exit_code == 1, result.output  # notes.txt fails; the rest load
        outputs.append(result.output)
    assert runner.invoke(cli, [*args, "detect", "--all"]).exit_code == 0
    for fmt in ("csv", "json", "table"):
        result = runner.invoke(cli, [*args, "alerts", "--format", fmt])
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    text = "\n".join(outputs)
    assert marker("FailedRun") in text  # the failing file's error was printed
    assert [leak for leak in LEAKS if leak in text] == []


def test_a_source_built_record_and_an_api_page_reject_are_redacted_at_the_door(store):
    """The ingest path: sources build StagedRecords and page problems themselves."""
    loader = Loader(store, run_id="run-api", now=FIXED_NOW)
    record = StagedRecord(
        org_id="00D5g000004XyZaEAK",
        source_id="rest:Example",
        record_id="r1",
        occurred_at=FIXED_NOW,
        payload={"access_token": SESSION_ID, "note": f"Bearer {BEARER}", "ok": marker("Api")},
        line=None,
        event={"event_type": "token_usage", "user_agent": FREE_TEXT, "app_name": "App"},
    )
    loader.load_records([record], origin="salesforce:00D5g000004XyZaEAK")
    from ingest.formats.records import login_history as normalize_login_history

    page = [
        login_history("0Ya000000000004AAA", "2026-11-01T10:00:00", "198.51.100.7"),
        {**login_history("0Ya000000000005AAA", "never", "1.2.3.4"), "Token": REFRESH_TOKEN},
    ]
    batch = normalize_page(page, normalize_login_history, "00D5g000004XyZaEAK", "LoginHistory")
    written = loader.quarantine("salesforce:org", "salesforce:org", batch.problems)
    assert written == 1
    assert store.execute("SELECT record_index FROM quarantine").fetchone() == (1,)
    dump = json.dumps(
        [
            store.execute("SELECT payload FROM raw_records").fetchall(),
            store.execute("SELECT user_agent FROM events").fetchall(),
            store.execute("SELECT reason, raw_text FROM quarantine").fetchall(),
        ],
        default=str,
    )
    assert marker("Api") in dump
    assert [leak for leak in LEAKS if leak in dump] == []


def test_failed_runs_and_their_details_are_scrubbed(store):
    from ingest import runs

    runs.start(store, run_id="r", stage="ingest", unit_id="acme/oauth_token", now=FIXED_NOW)
    runs.finish(
        store,
        run_id="r",
        stage="ingest",
        unit_id="acme/oauth_token",
        status="failed",
        now=FIXED_NOW,
        error=f"HTTP 401 for https://x.my.salesforce.com/?{FREE_TEXT}",
        details={"request": {"headers": {"Authorization": f"Bearer {BEARER}"}}},
    )
    error, details = store.execute("SELECT error, details FROM runs").fetchone()
    assert [leak for leak in LEAKS if leak in error + details] == []
    assert error.startswith("HTTP 401 for https://x.my.salesforce.com/?failed: sid=[redacted]")


def test_realworld_token_responses_lose_their_tokens():
    """Salesforce's own token-endpoint responses (Rapid7's recorded fixture)."""
    path = REALWORLD / "salesforce" / "rapid7-insightconnect" / "get_token.json"
    if not path.exists():
        pytest.skip(f"{path} absent: set TOKENSENTRY_SHARED to the shared samples folder")
    document = json.loads(path.read_text())
    secrets = [
        str(value)
        for key, value in _walk(document)
        if re.search("token|signature", key, re.I) and isinstance(value, str) and len(value) > 8
    ]
    assert secrets, "the sample no longer carries a token"
    stored = json.dumps(redact(document))
    assert [secret for secret in secrets if secret in stored] == []


def _walk(value, key=""):
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _walk(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, key)
    else:
        yield key, value


def test_log_lines_are_scrubbed_before_any_handler_sees_them(caplog):
    import logging

    from ingest.formats.redact import scrub_log_records

    previous = logging.getLogRecordFactory()
    scrub_log_records()
    scrub_log_records()  # idempotent
    try:
        logger = logging.getLogger("simple_salesforce.test")
        with caplog.at_level(logging.DEBUG):
            logger.debug("GET %s?%s", "https://x.my.salesforce.com/id", FREE_TEXT)
            try:
                raise RuntimeError(f"token endpoint said {REFRESH_TOKEN}")
            except RuntimeError:
                logger.exception("refresh failed with %s", marker("Log"))
        assert marker("Log") in caplog.text and "GET https://x.my.salesforce.com/id" in caplog.text
        assert [leak for leak in LEAKS if leak in caplog.text] == []
    finally:
        logging.setLogRecordFactory(previous)


def test_oauth_token_and_partner_payloads_keep_only_known_fields(store, tmp_path):
    """Where the fields are documented, unknown ones are not stored at all: a secret under a
    name no rule recognises still stays out."""
    token = {
        "attributes": {"type": "OauthToken"},
        "APPNAME": "Acme Sync",  # Data Loader upper-cases field names
        "UserId": "0055g00000AbCdE",
        "LastUsedDate": "2026-11-01T00:00:00.000+0000",
        "UseCount": 3,
        "DeleteToken": "LeakDeleteTokenPlain",
        "Handle": "LeakUnnamedSecret1",
    }
    partner = tmp_path / "p.jsonl"
    partner.write_text(
        json.dumps(
            {
                "ts": "2026-11-01T09:30:00Z", "org_id": ORG15, "app": "Acme Sync",
                "user_id": None, "grant_type": "refresh_token", "token_fp": "fp-1",
                "new_token_fp": "fp-2", "egress_ip": "203.0.113.5", "worker": "w1",
                "outcome": "success", "error_description": None, "pkce": None,
                "x_handle": "LeakUnnamedSecret2",
            }
        )
        + "\n"
    )  # fmt: skip
    run_import(store, write_json(tmp_path / "t.json", envelope([token])), partner, org=ORG15)
    payloads = {
        source: json.loads(payload)
        for source, payload in store.execute(
            "SELECT source_id, payload FROM raw_records"
        ).fetchall()
    }
    assert payloads["soql:OauthToken"]["_dropped_fields"] == ["DeleteToken", "Handle"]
    assert payloads["soql:OauthToken"]["APPNAME"] == "Acme Sync"
    assert payloads["partner_token_log"]["_dropped_fields"] == ["x_handle"]
    assert payloads["partner_token_log"]["token_fp"] == "fp-1"
    assert "LeakUnnamedSecret" not in json.dumps(payloads)
