"""Every terminal and pipe output escapes attacker text the same way (issue 19).

`alerts --incidents`, `egress list` and the triage message printed control characters raw: an
ESC sequence ran on the analyst's terminal, and a line feed split one incident over two lines
of a pipe. These run the real CLI, on a pseudo-terminal (rich's table) and through a pipe
(tab-separated lines), with a hostile app name, user agent and analyst note.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from dashboard import console as output
from dashboard.cli import cli

from .ingest.helpers import elf_login, envelope, login_history, write_elf, write_json
from .test_output_safety import _run_on_a_terminal

ORG15 = "00D5g000004XyZa"
# ESC (CSI, OSC 8 link), BEL, CR and LF, C1 CSI, bidi override, zero-width space and joiner,
# a soft hyphen and a tag character (hidden ASCII).
HOSTILE = (
    "A\x1b[2J\x1b]8;;https://evil.example\x07B\rC\nD\x9b31mE\u202eF\u200bG\u200dH\xadI\U000e0041J"
)
FORBIDDEN = ["\x1b", "\x07", "\r", "\x9b", "\u202e", "\u200b", "\u200d", "\xad", "\U000e0041"]


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory) -> list[str]:
    folder = tmp_path_factory.mktemp("hostile")
    elf = write_elf(
        folder / "Login.csv",
        [
            {
                **elf_login(
                    "20261101093000.500", "198.51.100.9", agent=f"python-requests/2 {HOSTILE}"
                ),
                "USER_NAME": f"eve{HOSTILE}@example.com",
            }
        ],  # the username column is hostile too
    )
    app = f"Portal {HOSTILE}"
    history = write_json(
        folder / "lh.json",
        envelope([login_history("0Ya000000000001AAA", "2026-11-01T10:00:00", "198.51.100.7", app=app)]),
    )  # fmt: skip
    config = folder / "tokensentry.toml"
    config.write_text("")
    args = ["--db", str(folder / "store.duckdb"), "--config", str(config)]
    runner = CliRunner()
    assert (
        runner.invoke(cli, [*args, "import", "--org", ORG15, str(elf), str(history)]).exit_code == 0
    )
    assert runner.invoke(cli, [*args, "detect", "--all"]).exit_code == 0
    added = runner.invoke(
        cli, [*args, "egress", "add", "198.51.100.0/24", "--app", app, "--note", HOSTILE,
              "--days", "30", "--analyst", f"eve{HOSTILE}"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    return args


def _piped(args: list[str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "dashboard.cli", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def _assert_escaped(text: str) -> None:
    assert [c for c in FORBIDDEN if c in text] == []
    assert "\\x1b[2J" in text and "\\u202e" in text and "\\u200b" in text
    # A line feed shows as `\x0a` (or `\n` where a detector quoted the value with repr).
    assert "\\x0a" in text or "\\nD" in text


@pytest.mark.parametrize(
    ("command", "columns"),
    [(["alerts", "--incidents"], 7), (["egress", "list"], 8), (["alerts"], 8)],  # + username
)
def test_a_pipe_gets_one_escaped_line_per_record(hostile_store, command, columns):
    text = _piped([*command, *hostile_store])
    _assert_escaped(text)
    lines = text.splitlines()
    assert len(lines) >= 2 and all(len(line.split("\t")) == columns for line in lines)


@pytest.mark.parametrize("command", [["alerts", "--incidents"], ["egress", "list"]])
def test_a_terminal_shows_hostile_text_escaped(hostile_store, command):
    code, screen = _run_on_a_terminal([*command, *hostile_store])
    text = screen.decode("utf-8", errors="replace")
    assert code == 0, text
    assert "┃" in text  # rich drew its table: a real terminal render
    assert "\x1b[2J" not in text and "\x1b]8" not in text and "\x07" not in text
    assert [c for c in FORBIDDEN[3:] if c in text] == []
    assert "\\x1b[2J" in text and "\\u202e" in text


def test_the_triage_message_escapes_the_target_it_names(hostile_store):
    done = subprocess.run(
        [sys.executable, "-m", "dashboard.cli", *hostile_store, "triage", f"nope{HOSTILE}",
         "--status", "acknowledged"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert [c for c in FORBIDDEN if c in done.stdout + done.stderr] == []


@pytest.mark.parametrize(
    "character",
    ["\n", "\r", "\t", "\x07", "\u2028", "\u2060", "\u206a", "\ufff9", "\ud800", "\U000e0041"],
)
def test_every_invisible_or_line_breaking_character_is_shown(character):
    shown = output.plain(f"a{character}b")
    assert character not in shown and shown.startswith("a\\") and shown.endswith("b")


def test_missing_values_print_empty_not_nan():
    import pandas as pd

    assert [output.plain(v) for v in (None, float("nan"), pd.NaT)] == ["", "", ""]
    assert output.records_plain([{"a": float("nan"), "b": None}], ("a", "b")) == "a\tb\n\t\n"
