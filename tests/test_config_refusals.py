"""Configuration that cannot be right is refused (issue 19): by the loader with a ConfigError
naming the key, and by every command with exit 2 on the config-error path (CONTRACT §2).

Each message says the key, the bad value escaped (a line feed shows as `\\n`) and what a valid
value looks like.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.cli import cli
from detect import registry
from ingest import config, db
from ingest.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent

# (TOML, the start of the message: key and escaped value, what a valid value looks like)
REFUSED = [
    # A threshold or window of zero or less: `max_kmh = -5` raised 18 false high alerts.
    (
        "[detectors.impossible_travel]\nmax_kmh = -5\n",
        "detectors.impossible_travel.max_kmh: -5 cannot be right",
        "expected a number above 0",
    ),
    (
        "[detectors.impossible_travel]\nmin_km = -1\n",
        "detectors.impossible_travel.min_km: -1 cannot be right",
        "expected a number above 0",
    ),
    (
        "[detectors.impossible_travel]\nmax_gap_hours = 0\n",
        "detectors.impossible_travel.max_gap_hours: 0 cannot be right",
        "expected a number above 0",
    ),
    (
        "[detectors.refresh_token_reuse]\nwindow_s = 0\n",
        "detectors.refresh_token_reuse.window_s: 0 cannot be right",
        "expected a number above 0",
    ),
    (
        "[detectors.idle_token]\nexpire_days = -30.0\n",
        "detectors.idle_token.expire_days: -30.0 cannot be right",
        "expected a number above 0",
    ),
    (
        "[detectors.new_network]\nlearning_days = nan\n",
        "detectors.new_network.learning_days: nan cannot be right",
        "expected a number above 0",
    ),
    (
        "[detectors.anomaly_score.min_excess]\nevents = -20\n",
        "detectors.anomaly_score.min_excess.events: -20 cannot be right",
        "expected a number above 0",
    ),
    (
        "[ingest]\nlookback_days = 0\n",
        "ingest.lookback_days: 0 cannot be right",
        "expected a number above 0, e.g. 30",
    ),
    (
        "[ingest]\ntimeout_s = -1\n",
        "ingest.timeout_s: -1 cannot be right",
        "expected a number above 0, e.g. 120",
    ),
    # A link that is not http(s): `javascript:` made every digest link a script.
    (
        '[digest]\ndashboard_url = "javascript:alert(document.cookie)"\n',
        "digest.dashboard_url: 'javascript:alert(document.cookie)' is not a web address",
        "expected an https:// (or http://) URL with a host, e.g. https://",
    ),
    (
        '[digest]\ndashboard_url = "ftp://files.example.com"\n',
        "digest.dashboard_url: 'ftp://files.example.com' is not a web address",
        "e.g. https://tokensentry.example.com",
    ),
    (
        '[digest]\ndashboard_url = "https://"\n',
        "digest.dashboard_url: 'https://' is not a web address",
        "with a host",
    ),
    # Header injection in any mail field: a line feed in `from` ended in a traceback.
    (
        '[digest]\nfrom = "tokensentry@example.com\\nBcc: all@example.com"\n',
        r"digest.from: 'tokensentry@example.com\nBcc: all@example.com' contains a line break",
        "expected one line of plain text, e.g. tokensentry@example.com",
    ),
    (
        '[digest]\nto = ["secops@example.com", "x@example.com\\r\\nBcc: all@example.com"]\n',
        r"digest.to[1]: 'x@example.com\r\nBcc: all@example.com' contains a line break",
        "e.g. secops@example.com",
    ),
    (
        '[digest]\nsmtp_host = "smtp.example.com\\r\\nRCPT TO:<x@example.com>"\n',
        r"digest.smtp_host: 'smtp.example.com\r\nRCPT TO:<x@example.com>' contains",
        "e.g. smtp.example.com",
    ),
    (
        '[digest]\nusername = "tokensentry\\u0000"\n',
        r"digest.username: 'tokensentry\x00' contains a line break or another control character",
        "e.g. tokensentry",
    ),
    (
        '[digest]\ndashboard_url = "https://ts.example.com/\\nX-Evil: 1"\n',
        r"digest.dashboard_url: 'https://ts.example.com/\nX-Evil: 1' contains a line break",
        "e.g. https://tokensentry.example.com",
    ),
    (
        '[dashboard]\nuser_header = "X-Forwarded-User\\r\\n"\n',
        r"dashboard.user_header: 'X-Forwarded-User\r\n' contains a line break",
        "e.g. X-Forwarded-User",
    ),
]
IDS = [
    expected.split(":")[0] + "=" + toml.split("=", 1)[1].strip()[:20]
    for toml, expected, _ in REFUSED
]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tokensentry.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("toml", "expected", "valid"), REFUSED, ids=IDS)
def test_the_loader_refuses_it_naming_key_value_and_a_valid_value(tmp_path, toml, expected, valid):
    with pytest.raises(ConfigError) as caught:
        config.load(write(tmp_path, toml))
    message = str(caught.value)
    assert message.startswith(expected)
    assert valid in message
    assert "\n" not in message and "\r" not in message and "\x00" not in message


@pytest.mark.parametrize(("toml", "expected", "valid"), REFUSED, ids=IDS)
def test_every_command_exits_2_with_the_message(tmp_path, toml, expected, valid):
    path = write(tmp_path, toml)
    env = {"TOKENSENTRY_DB": str(tmp_path / "t.duckdb"), "TOKENSENTRY_CONFIG": str(path)}
    result = CliRunner().invoke(cli, ["detect"], env=env, catch_exceptions=False)
    assert result.exit_code == 2
    stderr = " ".join(result.stderr.split())  # rich wraps long lines
    assert expected.split(":")[0] in stderr
    assert "cannot be right" in stderr or "not a web address" in stderr or "line break" in stderr
    assert "Traceback" not in result.output


def test_a_line_feed_in_the_sender_exits_2_not_a_traceback(tmp_path):
    """The reported case, through the installed entry point's module in a fresh process."""
    path = write(
        tmp_path, '[digest]\nfrom = "a@example.com\\nBcc: b@example.com"\nto = ["c@x.example"]\n'
    )
    with db.connect(tmp_path / "t.duckdb"):
        pass  # a store, so that the configuration is what stops the digest
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "TOKENSENTRY_DB": str(tmp_path / "t.duckdb"),
        "TOKENSENTRY_CONFIG": str(path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "dashboard.cli", "digest", "--dry-run", str(tmp_path / "d.eml")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "digest.from:" in done.stderr and "Traceback" not in done.stderr
    assert "a@example.com\\nBcc" in " ".join(done.stderr.split())
    assert not (tmp_path / "d.eml").exists()


def test_a_long_bad_value_is_cut_short(tmp_path):
    with pytest.raises(ConfigError) as caught:
        config.load(write(tmp_path, f'[digest]\nfrom = "{"x" * 5000}\\n"\n'))
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize(
    "toml",
    [
        "[detectors.anomaly_score]\nmax_score = -0.2\nrandom_state = 0\n",  # a score, a seed
        "[detectors.impossible_travel]\nmax_kmh = 1200\nmin_km = 1\n",
        "[detectors.off_allowlist_ip]\ninclude_failures = false\n",
        "[ingest]\nretry_wait_s = 0\napi_reserve = 0\n",  # no wait, no reserve: allowed
        '[digest]\ndashboard_url = "http://localhost:8501"\nfrom = "Tokensentry <ts@example.com>"\n',
        '[digest]\ndashboard_url = "HTTPS://ts.example.com/alerts?org=1#top"\n',
    ],
)
def test_values_that_can_be_right_still_load(tmp_path, toml):
    loaded = config.load(write(tmp_path, toml))
    registry.check_config(loaded)


def test_the_shipped_example_still_loads():
    loaded = config.load(REPO / "data" / "tokensentry.example.toml", required=True)
    registry.check_config(loaded)
    assert loaded.digest.dashboard_url == "https://tokensentry.example.com"


def test_the_demo_config_still_loads(tmp_path):
    from dashboard.demo.pipeline import DIGEST_CONFIG

    loaded = config.load(write(tmp_path, DIGEST_CONFIG.format(port=8501)))
    assert loaded.digest.dashboard_url == "http://localhost:8501"
