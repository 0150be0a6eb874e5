"""A 1 MB app name or user agent is cut at import, and the cut is noted (issue 19).

Through `tokensentry import` of each format: the value is stored in at most 8 KiB (64 KiB for
free text), the row still loads, and the quarantine table holds a note naming the field and
both sizes, counted in the run's quarantined rows.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dashboard.cli import cli
from ingest import db
from ingest.field_limits import NAME_CAP, TEXT_CAP, cut

from .helpers import ELF_LOGIN_HEADER, elf_login, envelope, login_history, write_elf, write_json

ORG15 = "00D5g000004XyZa"
MB = 1024 * 1024
BIG_APP = "App" + "a" * (MB - 3)
BIG_AGENT = "Agent/1.0 " + "é" * ((MB - 10) // 2)  # multi-byte: cut on a character boundary


def _elf(folder):
    row = {
        **elf_login("20261101093000.500", "203.0.113.5", agent=BIG_AGENT),
        "CONNECTED_APP_NAME": BIG_APP,
    }
    return write_elf(folder / "Login.csv", [row], [*ELF_LOGIN_HEADER, "CONNECTED_APP_NAME"])


def _soql(folder):
    record = login_history("0Ya000000000001AAA", "2026-11-01T10:00:00", "198.51.100.7", app=BIG_APP)
    record["Browser"] = BIG_AGENT
    return write_json(folder / "lh.json", envelope([record]))


def _partner(folder):
    line = {
        "ts": "2026-11-01T09:30:00.120Z", "org_id": ORG15, "app": BIG_APP,
        "user_id": "0055g00000AbCdE", "grant_type": "refresh_token", "token_fp": "fp-1",
        "new_token_fp": "fp-2", "egress_ip": "203.0.113.5", "worker": "w1",
        "outcome": "invalid_grant", "error_description": "x" * MB, "pkce": None,
    }  # fmt: skip
    path = folder / "partner.jsonl"
    path.write_text(json.dumps(line) + "\n")
    return path


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (_elf, {"BROWSER_TYPE 1048576 → 8192", "CONNECTED_APP_NAME 1048576 → 8192"}),
        # LoginHistory's Browser is not an event column: only its raw copy is cut.
        (_soql, {"app_name 1048576 → 8192", "payload.Browser 1048576 → 8192"}),
        (
            _partner,
            {
                "app_name 1048576 → 8192",
                "error_description 1048576 → 65536",
                "payload.app 1048576 → 8192",
            },
        ),
    ],
)
def test_a_megabyte_name_or_agent_is_cut_and_noted(tmp_path, build, expected):
    path = build(tmp_path)
    store = tmp_path / "store.duckdb"
    config = tmp_path / "tokensentry.toml"
    config.write_text("")
    args = ["--db", str(store), "--config", str(config), "import", "--org", ORG15]
    result = CliRunner().invoke(cli, [*args, "--format", "json", str(path)])
    assert result.exit_code == 1, result.output  # a file with quarantine notes is "partial"
    report = json.loads(result.stdout)
    assert report["totals"]["rows_quarantined"] == 1 and report["files"][0]["status"] == "partial"
    with db.connect(store, read_only=True) as con:
        (reason, line, text), *more = con.execute(
            "SELECT reason, line, raw_text FROM quarantine"
        ).fetchall()
        assert more == []
        assert reason.startswith("field truncated: ") and line is not None, (reason, line)
        assert all(f"{e} bytes" in reason for e in expected), reason
        assert "record_id" in text
        event = con.execute(
            "SELECT app_name, user_agent, error_description, strlen(app_name), "
            "strlen(user_agent), strlen(error_description) FROM events"
        ).fetchone()
        sizes = [size for size in event[3:] if size is not None]
        assert sizes and max(sizes) <= TEXT_CAP
        assert event[3] is None or event[3] <= NAME_CAP
        assert event[4] is None or event[4] <= NAME_CAP
        if event[0]:
            assert BIG_APP.startswith(event[0])
        if event[1]:
            assert BIG_AGENT.startswith(event[1])  # whole characters, no replacement char
        stored = con.execute(
            "SELECT coalesce(max(strlen(payload)), 0) FROM raw_records"
        ).fetchone()[0]
        assert stored < 3 * TEXT_CAP
        elf = con.execute("SELECT count(*) FROM raw_elf").fetchone()[0]
        if elf:
            longest = con.execute(
                "SELECT max(strlen(BROWSER_TYPE)), max(strlen(CONNECTED_APP_NAME)) FROM raw_elf"
            ).fetchone()
            assert max(longest) <= NAME_CAP
    # Importing the file again notes nothing new.
    again = CliRunner().invoke(cli, [*args, "--format", "json", str(path)])
    assert again.exit_code == 0 and json.loads(again.stdout)["totals"]["rows_quarantined"] == 0


def test_cut_keeps_whole_characters():
    assert cut("é" * 5, 5) == "éé"
    assert cut("abc", 8) == "abc"
