"""A JSON key is a field name or free text, and only a field name can make its value secret.

`tokensentry import --format json` keys its quarantine counts by reason. A reason that
mentions a token (`partner_token_log: egress_ip '10.0.0.999' is not an IP address`) is a sentence, not a
secret's field name: its count is printed as a number. A real secret field (`refresh_token`)
is still fingerprinted, and a secret inside the reason text is scrubbed from the key itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard import console as output
from dashboard.cli import cli
from ingest.formats.redact import fingerprint, is_secret_name, redact

from .ingest.test_import import partner_line

ORG15 = "00D5g000004XyZa"
# "Leak" marks each secret so a partial leak is found too.
SESSION_ID = "00D5g000004XyZa!AQ4AQLeakSessionIdInReason.0123456789abcdef"
REFRESH_TOKEN = "5Aep861LeakRefreshTokenInKey_xvFHRBTTbf.YrTWgEyjBJ5K1V3wQf1"


def _import_json(tmp_path: Path, lines: list[str]) -> tuple[int, dict]:
    partner = tmp_path / "partner.jsonl"
    partner.write_text("\n".join(lines) + "\n")
    config = tmp_path / "tokensentry.toml"
    config.write_text("")
    args = ["--db", str(tmp_path / "store.duckdb"), "--config", str(config), "import"]
    result = CliRunner().invoke(cli, [*args, "--org", ORG15, "--format", "json", str(partner)])
    return result.exit_code, json.loads(result.stdout)


def test_import_json_prints_a_token_logs_quarantine_count_as_a_number(tmp_path):
    code, report = _import_json(
        tmp_path,
        [
            partner_line(),
            partner_line(egress_ip="10.0.0.999"),
            partner_line(egress_ip="10.0.0.999", ts="2026-11-01T09:31:00.000Z"),
        ],
    )
    assert code == 1  # a file with quarantined lines is "partial"
    assert report["totals"]["rows_quarantined"] == 2
    reason = "partner_token_log: egress_ip '10.0.0.999' is not an IP address"
    assert report["quarantine_reasons"] == {reason: 2}
    assert type(report["quarantine_reasons"][reason]) is int


def test_import_json_scrubs_a_secret_quoted_in_a_reason_and_keeps_its_count(tmp_path):
    code, report = _import_json(tmp_path, [partner_line(), partner_line(egress_ip=SESSION_ID)])
    assert code == 1
    assert "Leak" not in json.dumps(report)
    [(reason, count)] = report["quarantine_reasons"].items()
    assert reason.startswith("partner_token_log: egress_ip ") and "[redacted]" in reason
    assert count == 1


def test_print_json_scrubs_a_secret_from_a_reason_key_and_fingerprints_a_secret_field(capsys):
    reason = f"partner_token_log: egress_ip '{SESSION_ID}' is not an IP address"
    other = reason.replace("AQ4AQ", "AQ5AQ")  # a second secret: same text once scrubbed
    output.print_json(
        {
            "quarantine_reasons": {reason: 3, other: 2},
            "refresh_token": REFRESH_TOKEN,
            "access_token": "LeakOpaqueAccessToken",
        }
    )
    printed = json.loads(capsys.readouterr().out)
    assert "Leak" not in json.dumps(printed)
    scrubbed = "partner_token_log: egress_ip '[redacted]' is not an IP address"
    assert printed["quarantine_reasons"] == {scrubbed: 3, f"{scrubbed} (2)": 2}
    assert printed["refresh_token"] == fingerprint(REFRESH_TOKEN)
    assert printed["access_token"] == fingerprint("LeakOpaqueAccessToken")


@pytest.mark.parametrize(
    "key",
    [
        "partner_token_log: egress_ip '' is not an IP address",
        "refresh token reuse seen twice",
        "OauthToken: AppName is missing",
        "password (from the config file)",
        "tokens refreshed by worker w1 in the last hour",
    ],
)
def test_free_text_keys_are_not_secret_field_names(key):
    assert not is_secret_name(key)
    assert redact({key: 7}) == {key: 7}
    assert redact({key: "kept"}) == {key: "kept"}


@pytest.mark.parametrize(
    "key", ["refresh_token", "Refresh Token", "ns__Password__c", "x-api-key", "client.secret"]
)
def test_field_names_still_make_their_value_secret(key):
    assert is_secret_name(key)
    assert redact({key: "LeakPlain"}) == {key: fingerprint("LeakPlain")}


def test_a_secret_value_under_a_free_text_key_is_still_caught_by_its_shape():
    shown = redact({"note about a token": REFRESH_TOKEN, "a reason: sid": f"x {SESSION_ID}"})
    assert "Leak" not in json.dumps(shown)
