"""No secret reaches the store, a run's error, the CLI's output or an export (issue 7).

Secrets are planted in every shape (by field name in many spellings, and token-shaped strings
inside free text) across every input format and every write path: valid rows, quarantined
rows, rejected CSV lines, broken JSON lines, failed files. Then the DuckDB file's bytes and
its WAL are searched. A non-secret marker planted next to each secret is the positive
control: the same search must find every marker, or the search proves nothing.
"""

from __future__ import annotations

import base64
import csv
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.cli import cli
from ingest import db
from ingest.formats.redact import fingerprint, is_secret_name, redact, scrub_text
from ingest.load import Loader, StagedRecord
from ingest.source import normalize_page

from ..conftest import FIXED_NOW, REALWORLD
from .helpers import (
    ELF_LOGIN_HEADER,
    elf_login,
    envelope,
    login_history,
    run_import,
    write_elf,
    write_json,
)

ORG15 = "00D5g000004XyZa"

# Every secret carries "Leak" + a kind, so a partial leak (a cut-off token) is found too.
SESSION_ID = "00D5g000004XyZa!AQ4AQLeakSessionIdValue.0123456789abcdefABCDEF_xyz"
REFRESH_TOKEN = "5Aep861LeakRefreshToken_xvFHRBTTbf.YrTWgEyjBJ5K1V3wQf1iRqWLeqAyx"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIzTVZHOSIsInN1YiI6ImxlYWsifQ.LeakJwtSignature_0123456789"
BEARER = "LeakBearerOpaqueValue0123456789"
# Values with no recognisable shape: only the field's name says they are secret.
NAMED = {
    "DeleteToken": "LeakDeleteTokenPlain",
    "AccessToken": "LeakAccessTokenPlain",
    "RequestToken": "LeakRequestTokenPlain",
    "refresh-token": "LeakRefreshDashPlain",
    "CLIENT_SECRET": "LeakClientSecretPlain",
    "ns__Password__c": "LeakCustomPasswordPlain",
    "client_assertion": "LeakAssertionPlain",
    "code": "LeakAuthCodePlain",
    "consumerSecret": "LeakConsumerSecretPlain",
}
FREE_TEXT = (
    f"failed: sid={SESSION_ID} Authorization: Bearer {BEARER} "
    f"refresh_token={REFRESH_TOKEN}&client_secret=LeakInlineSecretPlain assertion {JWT}"
)
LEAKS = [
    "LeakSessionIdValue",
    "LeakRefreshToken",
    "LeakJwtSignature",
    "LeakBearerOpaque",
    "LeakInlineSecret",
    *NAMED.values(),
]


def marker(where: str) -> str:
    return f"MARKERnotSecret{where}"


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


@pytest.mark.parametrize(
    "name",
    [
        "access_token", "AccessToken", "ACCESS-TOKEN", "refreshToken", "Refresh_Token__c",
        "ns__DeleteToken__c", "requesttoken", "id_token", "client_secret", "ConsumerSecret",
        "password", "Passwd", "assertion", "client_assertion", "code", "code_verifier",
        "sessionId", "SID", "Authorization", "private_key", "api-key", "Cookie",
    ],
)  # fmt: skip
def test_every_spelling_of_a_secret_field_is_secret(name):
    assert is_secret_name(name)
    assert redact({name: "x-LeakValue"}) == {name: fingerprint("x-LeakValue")}


@pytest.mark.parametrize(
    "name",
    [
        "token_fp", "new_token_fp", "UseCount", "tokenCount", "token_type", "STATUS_CODE",
        "postalCode", "LOGIN_KEY", "SESSION_KEY", "AppName", "LoginSubType", "errorCode",
        "OauthToken", "partner_token_log", "TOKENSENTRY_DB", "device_session_key",
    ],
)  # fmt: skip
def test_fields_that_only_describe_a_secret_are_kept(name):
    assert not is_secret_name(name)
    assert redact({name: "kept"}) == {name: "kept"}


def test_names_that_only_mention_a_token_keep_their_value_in_free_text():
    """Python decides `name: value` by the field-name rules. The DuckDB twin, which has no
    look-around, redacts every token-named assignment in an ELF value: stricter, never looser."""
    for text in ("OauthToken: AppName is missing", "token_fp=fp-1", "TOKENSENTRY_DB=/data/x"):
        assert scrub_text(text) == text
    assert scrub_text("x_refresh_token: abc") == "x_refresh_token: [redacted]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"sid={SESSION_ID}", "sid=[redacted]"),
        (f"session {SESSION_ID} expired", "session [redacted] expired"),
        (SESSION_ID.replace("!", "%21"), "[redacted]"),
        (f"sid_{SESSION_ID},X_{REFRESH_TOKEN}", "sid_[redacted],X_[redacted]"),
        (f"token {REFRESH_TOKEN}.", "token [redacted]"),
        (f"jwt {JWT} end", "jwt [redacted] end"),
        (f"Authorization: Bearer {BEARER}", "Authorization: [redacted]"),
        (f"header bearer {BEARER}", "header bearer [redacted]"),
        ('{"access_token": "abc", "user": "jo"}', '{"access_token": "[redacted]", "user": "jo"}'),
        ("?code=abc&state=2 status_code=500", "?code=[redacted]&state=2 status_code=500"),
        ("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----", "[redacted]"),
        ("OAuth Username-Password /services/oauth2/token", "OAuth Username-Password /services/oauth2/token"),
    ],
)  # fmt: skip
def test_token_shaped_strings_in_free_text(store, text, expected):
    assert scrub_text(text) == expected
    # The DuckDB twin used for EventLogFile rows agrees with the Python rules.
    assert store.execute("SELECT scrub_secrets(?)", [text]).fetchone()[0] == expected


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


def test_numbers_inside_a_secret_named_object_are_kept_but_a_bare_one_is_not():
    from ingest.formats.redact import REDACTED, redact

    timings = redact({"incident/token_chain": {"p50_ms": 12.5, "p95_ms": 30, "note": "x-secret"}})
    assert timings["incident/token_chain"]["p50_ms"] == 12.5
    assert timings["incident/token_chain"]["p95_ms"] == 30
    assert timings["incident/token_chain"]["note"] != "x-secret"  # strings still fingerprinted
    bare = redact({"password": 1234})
    assert bare["password"] != 1234 and str(bare["password"]).startswith("[redacted")
    assert REDACTED == "[redacted]"


def test_detector_ids_that_mention_tokens_are_names_not_secrets():
    from ingest.formats.redact import redact

    timings = {"idle_token": 0.4, "refresh_token_reuse": "ok", "refresh_token": "5Aep861x"}
    shown = redact(timings)
    assert shown["idle_token"] == 0.4 and shown["refresh_token_reuse"] == "ok"
    assert shown["refresh_token"] != "5Aep861x"  # the real field name still is a secret's


# -- encoded secrets (issue 19) ---------------------------------------------------------------
# Each shape an attacker test got past the shape rules, with its own "Leak…" name. The names
# are searched for raw, fully percent-encoded and in base64 (every alignment, both alphabets).
_B64_WRAPPED = base64.urlsafe_b64encode(
    f"sid={ORG15}!AQ4AQLeakBase64WrappedSid.0123456789".encode()
).decode()
_B64_JSON = base64.b64encode(b'{"access_token":"LeakBase64JsonToken0123"}').decode()
ENCODED_SHAPES = {
    "LeakUrlSid": "/secur/frontdoor.jsp?a=1&startURL=%2Fhome%3Fsid%3D00D5g00000HoOlI%21AQ4AQ"
    "LeakUrlSid.0123456789abcdef&b=2",
    "LeakDoubleEncoded": "next%3Dhttps%253A%252F%252Fx%253Faccess_token%253DLeakDoubleEncoded9",
    "LeakRtEncoded": "ua/1.0 rt%3D5Aep861LeakRtEncoded_xvFHRBTTbf.YrTWgE end",
    "LeakAccessEncoded": "q%3F access_token%3DopaqueLeakAccessEncoded%26x%3D1",
    "LeakPgpKey": "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQdGBGXLeakPgpKey0123\n=AbCd\n"
    "-----END PGP PRIVATE KEY BLOCK-----",
    "LeakSshKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaLeakSshKey0123\n"
    "-----END OPENSSH PRIVATE KEY-----",
    "LeakEncryptedKey": "-----BEGIN%20ENCRYPTED%20PRIVATE%20KEY-----%0AMIIFLeakEncryptedKey%0A"
    "-----END%20ENCRYPTED%20PRIVATE%20KEY-----",
    "LeakEscapedJson": r"{\"refresh_token\":\"LeakEscapedJsonOpaque\",\"n\":1}",
    "LeakUnicodeJson": r"{\u0022client_secret\u0022:\u0022LeakUnicodeJson\u0022}",
    "LeakHtmlEntity": "&quot;password&quot;:&quot;LeakHtmlEntity&quot; token&#61;LeakHtmlEq1",
    "LeakBase64WrappedSid": f"state={_B64_WRAPPED} done",
    "LeakBase64JsonToken": f"blob {_B64_JSON} end",
}
ENCODED_LEAKS = [*ENCODED_SHAPES, "LeakHtmlEq"]
ENCODED_TEXT = " | ".join(ENCODED_SHAPES.values())
# Close to a secret, not one: they must survive. (`code=200` is scrubbed: a bare `code` is an
# OAuth authorization code whatever it looks like; see ingest/formats/redact.py.)
LOOKALIKES = ["0015g00000KeEpS", "the token KeepProse rotated", "/keep%20KeepUrl?x=1"]
SURVIVORS = ["0015g00000KeEpS", "KeepProse", "KeepUrl"]


def _encodings(name: str) -> list[bytes]:
    raw = name.encode()
    forms = [raw, "".join(f"%{b:02X}" for b in raw).encode()]
    forms.append("".join(f"%{b:02x}" for b in raw).encode())
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw + b"\0\0").decode()
        first, last = -(-8 * offset // 6), (8 * (offset + len(raw)) - 6) // 6
        form = encoded[first : last + 1]
        forms += [form.encode(), form.replace("+", "-").replace("/", "_").encode()]
    return forms


def _encoded_leaks_in(blob: bytes) -> list[str]:
    return [name for name in ENCODED_LEAKS if any(f in blob for f in _encodings(name))]


def _planted(where: str) -> str:
    return f"{marker(where)} {' '.join(LOOKALIKES)} {ENCODED_TEXT}"


# Columns whose value decides whether the row loads; every other column carries the plant.
_ELF_STRUCTURAL = {"EVENT_TYPE", "TIMESTAMP", "TIMESTAMP_DERIVED", "ORGANIZATION_ID", "USER_ID",
                   "CLIENT_IP", "SOURCE_IP"}  # fmt: skip


def _encoded_inputs(folder: Path) -> tuple[list[Path], list[str]]:
    markers: list[str] = []
    header = [*ELF_LOGIN_HEADER, "LOGIN_URL", "API_TYPE"]
    good = {**elf_login("20261101093000.500", "203.0.113.5"), "LOGIN_URL": "", "API_TYPE": ""}
    for column in header:
        if column not in _ELF_STRUCTURAL:
            good[column] = _planted(f"Elf{column.replace('_', '')}")
            markers.append(marker(f"Elf{column.replace('_', '')}"))
    bad = {name: _planted(f"ElfBad{i}") for i, name in enumerate(header)}
    bad["EVENT_TYPE"] = "Login"
    markers.append(marker("ElfBad5"))
    elf = write_elf(folder / "Login.csv", [good, bad], header)
    history = login_history("0Ya000000000001AAA", "2026-11-01T10:00:00", "198.51.100.7")
    for field in ("LoginType", "LoginSubType", "Status", "Application", "Browser", "LoginUrl",
                  "Platform", "ApiType"):  # fmt: skip
        history[field] = _planted(f"Lh{field}")
    markers += [marker("LhApplication"), marker("LhBrowser"), marker("LhLoginUrl")]
    broken = {key: _planted(f"LhBad{key}") for key in history if key != "attributes"}
    broken["attributes"] = history["attributes"]
    markers.append(marker("LhBadId"))  # quarantine text keeps 4000 chars
    token = {
        "attributes": {"type": "OauthToken"},
        "AppName": _planted("TokenApp"),
        "UserId": "0055g00000AbCdE",
        "LastUsedDate": "2026-11-01T00:00:00.000+0000",
        "UseCount": 3,
    }
    markers.append(marker("TokenApp"))
    soql = write_json(folder / "soql.json", envelope([history, broken, token]))
    line = {
        "ts": "2026-11-01T09:30:00.120Z", "org_id": ORG15, "app": _planted("PartnerApp"),
        "user_id": "0055g00000AbCdE", "grant_type": "refresh_token", "token_fp": "fp-1",
        "new_token_fp": "fp-2", "egress_ip": "203.0.113.5", "worker": _planted("PartnerWorker"),
        "outcome": "invalid_grant", "error_description": _planted("PartnerError"), "pkce": None,
    }  # fmt: skip
    rejected = {key: _planted(f"PartnerBad{key}") for key in line}
    markers += [marker("PartnerApp"), marker("PartnerWorker"), marker("PartnerError")]
    markers.append(marker("PartnerBadapp"))
    partner = folder / "partner.jsonl"
    # The broken line carries the plant JSON-escaped: a raw line break would end the line.
    broken_line = json.dumps({**line, "app": _planted("PartnerBroken")})[:-30]
    markers.append(marker("PartnerBroken"))
    partner.write_text(f"{json.dumps(line)}\n{json.dumps(rejected)}\n{broken_line}\n")
    return [elf, soql, partner], markers


def test_encoded_secrets_never_reach_the_database_file_or_its_wal(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    files, markers = _encoded_inputs(inputs)
    db_path = tmp_path / "store.duckdb"
    with db.connect(db_path) as con:
        con.execute("SET force_compression = 'uncompressed'")
        summary = run_import(con, *files, org=ORG15)
        wal_blob = db_path.with_name("store.duckdb.wal").read_bytes()
        assert {o.status for o in summary.files} == {"partial"}, summary.files
        tables = {
            table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("events", "raw_elf", "raw_records", "quarantine")
        }
        con.execute("CHECKPOINT")
    assert all(tables.values()), tables  # every table holds a planted row
    for where, blob in (("the WAL", wal_blob), ("the database file", db_path.read_bytes())):
        assert _encoded_leaks_in(blob) == [], f"encoded secrets in {where}"
        missing = [m for m in markers + SURVIVORS if m.encode() not in blob]
        assert not missing, f"the search of {where} cannot see {missing}"


def test_encoded_secrets_never_reach_alerts_or_exports(tmp_path):
    files, _ = _encoded_inputs(tmp_path)
    config = tmp_path / "tokensentry.toml"
    config.write_text("")
    args = ["--db", str(tmp_path / "store.duckdb"), "--config", str(config)]
    runner = CliRunner()
    outputs = [runner.invoke(cli, [*args, "import", "--org", ORG15, *map(str, files)]).output]
    assert runner.invoke(cli, [*args, "detect", "--all"]).exit_code == 0
    for command in (["alerts"], ["alerts", "--incidents"]):
        for fmt in ("csv", "json", "table"):
            result = runner.invoke(cli, [*args, *command, "--format", fmt])
            assert result.exit_code == 0, result.output
            outputs.append(result.output)
    text = "\n".join(outputs).encode()
    assert _encoded_leaks_in(text) == []


@pytest.mark.parametrize("name", sorted(ENCODED_SHAPES))
def test_each_encoded_shape_is_scrubbed_alike_in_python_and_duckdb(store, name):
    text = f"{' '.join(LOOKALIKES)} {ENCODED_SHAPES[name]} tail"
    scrubbed = scrub_text(text)
    assert _encoded_leaks_in(scrubbed.encode()) == []
    assert all(keep in scrubbed for keep in SURVIVORS) and scrubbed.endswith(" tail")
    assert store.execute("SELECT scrub_secrets(?)", [text]).fetchone()[0] == scrubbed
    assert store.execute("SELECT may_hold_secret(?)", [text]).fetchone()[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a%3Fsid%3D00D5g00000HoOlI%21AQ4AQxyz.0123456789&b=2", "a%3Fsid%3D[redacted]&b=2"),
        ("x%253Daccess_token%253Dabc%2526y", "x%253Daccess_token%253D[redacted]%2526y"),
        (r'{\"token\":\"abc\"}', r'{\"token\":\"[redacted]\"}'),
        ("&quot;code&quot;:&quot;abc&quot;", "&quot;code&quot;:&quot;[redacted]&quot;"),
        ("password&#x3D;abc&amp;next", "password&#x3D;[redacted]&amp;next"),
        ("/search?q=a%20b&page=2 %E2%9C%93 %FF", "/search?q=a%20b&page=2 %E2%9C%93 %FF"),
        ("Salesforce id 0015g00000AbCdE, the token rotated", "Salesforce id 0015g00000AbCdE, the token rotated"),
        ("status_code=200 code=200", "status_code=200 code=[redacted]"),
        ("C:\\Users\\x /services/oauth2/token TLS_AES_256_GCM_SHA384", "C:\\Users\\x /services/oauth2/token TLS_AES_256_GCM_SHA384"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMII", "[redacted]"),
        ("-----BEGIN+EC+PRIVATE+KEY-----+MHcC+-----END+EC+PRIVATE+KEY----- ok", "[redacted] ok"),
    ],
)  # fmt: skip
def test_decoded_forms_in_free_text(store, text, expected):
    assert scrub_text(text) == expected
    assert store.execute("SELECT scrub_secrets(?)", [text]).fetchone()[0] == expected
