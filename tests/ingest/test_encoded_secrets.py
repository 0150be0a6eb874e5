"""Encoded secrets never reach the store, alerts or exports (issue 19).

Each shape an attacker test got past test_secrets.py's shape rules, with its own "Leak…" name,
is planted in every input format. The names are searched for raw, fully percent-encoded and in
base64 (every alignment, both alphabets). Lookalikes (close to a secret, not one) must survive,
and the planted markers must be found, or the search proves nothing.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.cli import cli
from ingest import db
from ingest.formats.redact import scrub_text

from .helpers import (
    ELF_LOGIN_HEADER,
    elf_login,
    envelope,
    login_history,
    run_import,
    write_elf,
    write_json,
)
from .secret_plants import marker

ORG15 = "00D5g000004XyZa"

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
