"""`tokensentry nightly`: one OS lock, each stage's failure recorded and mailed, one log line
per event; and the README's crontab line and systemd units name a command that runs."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dashboard.nightly import NightlyLocked, nightly_lock
from ingest import db

from .digest_helpers import (
    NIGHT_1,
    PASSWORD,
    SmtpServer,
    config_text,
    insert_alerts,
    night_one_alerts,
)

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("tokensentry")
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ tokensentry nightly: \S")
# A broken org: nothing listens on port 9 of loopback, so its ingest fails at once.
BROKEN_ORG = """
[orgs.broken-prod]
org_id = "00D5g000004XyZaEAK"
instance_url = "https://127.0.0.1:9"
login_url = "https://127.0.0.1:9"
auth = { method = "access_token", token = { env = "TS_TEST_ORG_TOKEN" } }

[ingest]
retry_wait_s = 0
timeout_s = 5
"""


def nightly(store: Path, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), "--db", str(store), "--config", str(config), "nightly", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TS_TEST_SMTP_PASSWORD": PASSWORD, "TS_TEST_ORG_TOKEN": "00Dx!tok"},
    )


@pytest.fixture
def store_path(tmp_path) -> Path:
    path = tmp_path / "store.duckdb"
    with db.connect(path) as con:
        insert_alerts(con, night_one_alerts(), detected_at=NIGHT_1)
    return path


def test_failed_ingest_still_mails_what_was_detected_marked_partial(tmp_path, store_path):
    with SmtpServer(tmp_path) as server:
        config = tmp_path / "tokensentry.toml"
        config.write_text(config_text(server.port, server.ca_path) + BROKEN_ORG)
        result = nightly(store_path, config)
        assert len(server.messages) == 1
        received = server.messages[0]
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert lines and all(LOG_LINE.match(line) for line in lines), result.stderr
    assert any(re.search(r"ingest broken-prod/\S+: failed", line) for line in lines)
    assert any("detect off_allowlist_ip: ok" in line for line in lines)
    assert any("digest: sent" in line for line in lines)
    assert "done: ingest failed for broken-prod/" in lines[-1]
    assert received.message["Subject"].startswith("[tokensentry] PARTIAL 1 critical, 2 high")
    text = " ".join(received.part("plain").split())
    assert "PARTIAL: a pipeline stage failed tonight" in text
    assert "failed: broken-prod/" in text
    assert "alert?id=a1reuse000000000001" in text
    with db.connect(store_path, read_only=True) as con:
        stages = dict(
            con.execute(
                "SELECT stage, list(DISTINCT status ORDER BY status) FROM runs GROUP BY stage"
            ).fetchall()
        )
    assert stages["ingest"] == ["failed"]
    assert "ok" in stages["detect"]
    assert stages["digest"] == ["ok"]


def test_a_clean_night_exits_0_and_a_second_sends_nothing(tmp_path, store_path):
    with SmtpServer(tmp_path) as server:
        config = tmp_path / "tokensentry.toml"
        config.write_text(config_text(server.port, server.ca_path))
        first = nightly(store_path, config)
        second = nightly(store_path, config)
        assert len(server.messages) == 1
    assert first.returncode == 0, first.stderr
    assert "ingest: no orgs configured; skipped" in first.stderr
    assert "done: every stage succeeded" in first.stderr
    assert second.returncode == 0
    assert "nothing new since the last digest; none sent" in second.stderr


def test_mail_server_down_exits_1_after_ingest_and_detect(tmp_path, store_path):
    config = tmp_path / "tokensentry.toml"
    with SmtpServer(tmp_path) as server:
        port = server.port
    config.write_text(config_text(port, tmp_path / "smtp-ca.pem"))
    result = nightly(store_path, config)
    assert result.returncode == 1
    assert (
        f"digest: not sent, nothing marked sent; the next run includes its alerts: cannot deliver to SMTP server 127.0.0.1:{port}"
        in result.stderr
    )
    with db.connect(store_path, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM digests WHERE status = 'sent'").fetchone() == (0,)


def test_a_digest_that_cannot_be_delivered_is_a_config_error_before_any_work(tmp_path, store_path):
    config = tmp_path / "tokensentry.toml"
    with SmtpServer(tmp_path) as server:
        config.write_text(config_text(server.port, server.ca_path).replace("TS_TEST_SMTP", "NO"))
    result = nightly(store_path, config)
    assert result.returncode == 2
    assert "environment variable NO_PASSWORD (for digest.password) is not set" in result.stderr
    assert not store_path.with_name("store.duckdb.nightly.lock").exists()
    with db.connect(store_path, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone() == (0,)


HOLDER = """
import sys, time
from pathlib import Path
from dashboard.nightly import nightly_lock
with nightly_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(120)
"""


def test_the_lock_stops_an_overlapping_run_and_dies_with_its_holder(tmp_path, store_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(store_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        config = tmp_path / "tokensentry.toml"
        with SmtpServer(tmp_path) as server:  # writes its CA; the run never gets to mail
            config.write_text(config_text(server.port, server.ca_path))
        started = time.monotonic()
        blocked = nightly(store_path, config)
        assert time.monotonic() - started < 30
        assert blocked.returncode == 1
        (line,) = blocked.stderr.splitlines()
        assert LOG_LINE.match(line)
        assert (
            f"another `tokensentry nightly` or `digest` (pid {holder.pid}) is still running" in line
        )
        with db.connect(store_path, read_only=True) as con:  # it did nothing at all
            assert con.execute("SELECT count(*) FROM runs").fetchone() == (0,)
        with pytest.raises(NightlyLocked), nightly_lock(store_path):
            pass
        by_hand = subprocess.run(
            [str(SCRIPT), "--db", str(store_path), "--config", str(config), "digest"],
            capture_output=True, text=True, timeout=120,
            env={**os.environ, "TS_TEST_SMTP_PASSWORD": PASSWORD},
        )  # fmt: skip
        assert by_hand.returncode == 1 and "is still running" in by_hand.stderr
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # what an OOM kill or `kill -9` does
        holder.wait(timeout=30)
    with nightly_lock(store_path) as path:  # the kernel released it with the process
        assert path == store_path.with_name("store.duckdb.nightly.lock")
        assert oct(path.stat().st_mode & 0o777) == "0o600"


def readme_block(language: str) -> list[str]:
    text = (REPO / "README.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)


def run_help(command_line: str) -> str:
    argv = shlex.split(command_line)
    assert Path(argv[0]).name == "tokensentry", argv
    # The README names the installed path (/opt/...); run the same console script from here.
    result = subprocess.run(
        [str(SCRIPT), *argv[1:], "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_readme_crontab_line_runs_the_nightly_command():
    (block,) = readme_block("crontab")
    (line,) = [ln for ln in block.splitlines() if ln.strip() and not ln.startswith("#")]
    minute, hour, day, month, weekday, command = line.split(maxsplit=5)
    assert 0 <= int(minute) < 60 and 0 <= int(hour) < 24
    assert (day, month, weekday) == ("*", "*", "*")
    assert command.split()[-1] == "nightly"
    assert "ingest → detect → digest" in run_help(command)


def test_readme_systemd_service_and_timer_pair():
    units = [configparser.ConfigParser(interpolation=None) for _ in range(2)]
    service_text, timer_text = readme_block("ini")
    units[0].read_string(service_text)
    units[1].read_string(timer_text)
    service, timer = units
    assert service["Service"]["Type"] == "oneshot"
    assert timer["Timer"]["OnCalendar"] == "*-*-* 02:15:00"
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Install"]["WantedBy"] == "timers.target"
    command = service["Service"]["ExecStart"]
    assert command.split()[-1] == "nightly"
    assert "tokensentry-nightly.service" in (REPO / "README.md").read_text()
    assert "ingest → detect → digest" in run_help(command)
