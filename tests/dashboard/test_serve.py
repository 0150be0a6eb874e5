"""`tokensentry dashboard`: loopback by default; any other bind address warns on stderr."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.cli import cli
from dashboard.web import serve


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_needs_no_warning(host):
    assert serve.exposure_warning(host) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "dashboard.corp.example"])
def test_other_addresses_warn_about_missing_authentication(host):
    warning = serve.exposure_warning(host)
    assert warning and "no authentication" in warning and "SSO proxy" in warning


def test_streamlit_is_told_the_bind_address():
    argv = serve.command(8600, "0.0.0.0")
    assert argv[argv.index("--server.address") + 1] == "0.0.0.0"
    assert serve.command(8600)[serve.command(8600).index("--server.address") + 1] == "127.0.0.1"


@pytest.mark.parametrize(
    ("args", "host", "warns"),
    [([], "127.0.0.1", False), (["--host", "0.0.0.0"], "0.0.0.0", True)],
)
def test_cli_binds_loopback_unless_asked(monkeypatch, demo_db, args, host, warns):
    # Replaces only the final exec into Streamlit; the browser test runs the real server.
    calls = []
    monkeypatch.setattr(serve, "serve", lambda db, config, port, host: calls.append(host) or 0)
    result = CliRunner().invoke(cli, ["--db", str(demo_db), "dashboard", *args])
    assert result.exit_code == 0, result.output
    assert calls == [host]
    assert ("no authentication of its own" in result.stderr) is warns


def test_config_names_the_sso_user_header():
    from ingest import config
    from ingest.errors import ConfigError

    parsed = config.parse({"dashboard": {"user_header": "X-Forwarded-User"}}, base_dir=Path())
    assert parsed.dashboard.user_header == "X-Forwarded-User"
    assert config.parse({}, base_dir=Path()).dashboard.user_header is None
    with pytest.raises(ConfigError, match=r"dashboard\.user_heder: unknown key"):
        config.parse({"dashboard": {"user_heder": "x"}}, base_dir=Path())


def test_user_header_mode_warns_unless_on_loopback():
    assert serve.user_header_warning("127.0.0.1", "X-Forwarded-User") is None
    assert serve.user_header_warning("0.0.0.0", None) is None
    warning = serve.user_header_warning("0.0.0.0", "X-Forwarded-User")
    assert warning and "sole route" in warning and "overwrites the header" in warning


def test_the_dashboard_command_binds_loopback_in_user_header_mode(monkeypatch, tmp_path):
    config = tmp_path / "tokensentry.toml"
    config.write_text('[dashboard]\nuser_header = "X-Forwarded-User"\n')
    store = tmp_path / "s.duckdb"
    store.touch()
    calls = []
    monkeypatch.setattr(serve.os, "execve", lambda path, argv, env: calls.append(argv))
    serve.serve(store, config, 8600)
    argv = calls[0]
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
