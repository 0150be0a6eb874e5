"""Attacker-controlled strings are text on a terminal and in a CSV, never markup, escape
sequences or formulas (issue 7).

App names and user agents come from Salesforce logs, so whoever names an app or sets a user
agent writes into the analyst's terminal and spreadsheet. The terminal test runs the real
`tokensentry alerts` on a pseudo-terminal, where rich renders its table (a pipe gets plain
tab-separated lines instead).
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard import console as output
from dashboard.cli import cli

from .ingest.helpers import elf_login, envelope, login_history, write_elf, write_json

ORG15 = "00D5g000004XyZa"
# Closing tag with nothing open (crashed `alerts` before), a style tag, a screen clear, an
# OSC 8 hyperlink, a CSI introduced by the one-byte C1 control, and a right-to-left override.
HOSTILE = "[/] [bold red]x\x1b[2J\x1b]8;;https://evil.example\x07click\x1b]8;;\x07\x9b31m\u202etxt"
AGENT = f"python-requests/2.32.4 {HOSTILE}"
APP = f'=HYPERLINK("https://evil.example","My Ticket Portal") {HOSTILE}'
FORBIDDEN_BYTES = [b"\x1b[2J", b"\x1b]8", "\u202e".encode(), "\x9b".encode()]


@pytest.fixture
def hostile_store(tmp_path: Path) -> tuple[list[str], Path]:
    """A store whose alerts quote a hostile user agent and a hostile look-alike app name."""
    elf = write_elf(
        tmp_path / "Login.csv", [elf_login("20261101093000.500", "198.51.100.9", agent=AGENT)]
    )
    history = write_json(
        tmp_path / "lh.json",
        envelope(
            [login_history("0Ya000000000001AAA", "2026-11-01T10:00:00", "198.51.100.7", app=APP)]
        ),
    )
    config = tmp_path / "tokensentry.toml"
    config.write_text("")
    args = ["--db", str(tmp_path / "store.duckdb"), "--config", str(config)]
    runner = CliRunner()
    imported = runner.invoke(cli, [*args, "import", "--org", ORG15, str(elf), str(history)])
    assert imported.exit_code == 0, imported.output
    assert runner.invoke(cli, [*args, "detect", "--all"]).exit_code == 0
    return args, tmp_path


def _run_on_a_terminal(args: list[str]) -> tuple[int, bytes]:
    controller, terminal = pty.openpty()
    env = {**os.environ, "COLUMNS": "1000", "LINES": "50", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "dashboard.cli", *args],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        close_fds=True,
    )
    os.close(terminal)
    received = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        received += chunk
    os.close(controller)
    return process.wait(timeout=60), received


def test_alerts_table_on_a_terminal_shows_hostile_names_as_text(hostile_store):
    args, _ = hostile_store
    code, screen = _run_on_a_terminal(["alerts", *args])
    text = screen.decode("utf-8", errors="replace")
    assert code == 0, text
    assert "┃" in text and "\x1b[" in text  # rich drew a styled table: a real terminal render
    assert "My Ticket Portal" in text and "python-requests/2.32.4" in text
    assert "[/] [bold red]x" in text  # markup shown literally
    assert "\\x1b[2J" in text and "\\u202e" in text and "\\x9b31m" in text  # visible escapes
    assert [b for b in FORBIDDEN_BYTES if b in screen] == []


def test_alerts_csv_cells_never_run_as_formulas(hostile_store):
    args, _ = hostile_store
    result = CliRunner().invoke(cli, [*args, "alerts", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert {row["detector"] for row in rows} >= {"suspicious_client"}
    apps = [row["app"] for row in rows if "My Ticket Portal" in row["app"]]
    assert apps and all(app.startswith("'=HYPERLINK(") for app in apps)
    for row in rows:
        for name, cell in row.items():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (name, cell)
    assert [b for b in FORBIDDEN_BYTES if b in result.output.encode()] == []


def test_alerts_piped_and_as_json_stay_one_line_per_alert(hostile_store):
    args, _ = hostile_store
    runner = CliRunner()
    plain = runner.invoke(cli, [*args, "alerts"])
    assert plain.exit_code == 0
    lines = plain.output.splitlines()
    assert all(len(line.split("\t")) == 8 for line in lines)  # the last: username
    assert [b for b in FORBIDDEN_BYTES if b in plain.output.encode()] == []
    as_json = runner.invoke(cli, [*args, "alerts", "--format", "json"])
    assert as_json.exit_code == 0
    assert [b for b in FORBIDDEN_BYTES if b in as_json.output.encode()] == []


def test_an_error_quoting_hostile_text_is_printed_not_rendered(tmp_path):
    """The import error names the file and quotes its first line: both are the attacker's."""
    junk = tmp_path / "notes [bold red].txt"
    junk.write_text("memo [/] [link=https://evil.example]click\nmore\n")
    config = tmp_path / "tokensentry.toml"
    config.write_text("")
    result = CliRunner().invoke(
        cli, ["--db", str(tmp_path / "s.duckdb"), "--config", str(config), "import", str(junk)]
    )
    assert result.exit_code == 1, result.output
    flat = " ".join(result.output.split())  # rich wraps long lines on a narrow console
    assert "notes [bold red].txt" in flat
    assert "[/] [link=https://evil.example]click" in flat


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_start_is_neutralised(start):
    cell = output.csv_cell(f"{start}1+1")
    assert isinstance(cell, str) and cell.startswith("'")
    assert output.csv_cell("Acme Sync") == "Acme Sync" and output.csv_cell(3) == 3


@pytest.mark.parametrize(
    "character", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9b", "\u061c", "\u200f", "\u202e", "\u2066"]
)  # fmt: skip
def test_control_and_bidi_characters_become_visible(character):
    shown = output.plain(f"a{character}b")
    assert character not in shown and shown.startswith("a\\") and shown.endswith("b")


def test_missing_values_are_empty_in_csv_and_null_in_json(hostile_store):
    """An alert without an app (a Login ELF line has none) must not print as `nan`."""
    args, _ = hostile_store
    runner = CliRunner()
    rows = list(
        csv.DictReader(io.StringIO(runner.invoke(cli, [*args, "alerts", "--format", "csv"]).output))
    )
    assert "nan" not in {row["app"] for row in rows} and "" in {row["app"] for row in rows}
    records = json.loads(runner.invoke(cli, [*args, "alerts", "--format", "json"]).output)
    assert None in {record["app"] for record in records}
