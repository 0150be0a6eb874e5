"""`tokensentry digest` against a real SMTP server on loopback (aiosmtpd): STARTTLS on a
throw-away certificate, AUTH, and the exactly-once rules."""

from __future__ import annotations

import os
import re
import stat
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.cli import cli
from dashboard.digest import collect, run_digest, state
from dashboard.digest.message import build_message
from ingest import config as config_module
from ingest import db

from .digest_helpers import (
    NIGHT_1,
    NIGHT_2,
    PASSWORD,
    SmtpServer,
    add_pipeline_trouble,
    config_text,
    free_port,
    insert_alerts,
    night_one_alerts,
    night_two_alerts,
)


@pytest.fixture(autouse=True)
def smtp_password(monkeypatch):
    monkeypatch.setenv("TS_TEST_SMTP_PASSWORD", PASSWORD)


@pytest.fixture
def store_path(tmp_path) -> Path:
    path = tmp_path / "store.duckdb"
    with db.connect(path) as con:
        insert_alerts(con, night_one_alerts(), detected_at=NIGHT_1)
        add_pipeline_trouble(con, NIGHT_1)
    return path


def write_config(tmp_path: Path, server: SmtpServer | None, **options) -> Path:
    path = tmp_path / "tokensentry.toml"
    port = server.port if server else free_port()
    ca = server.ca_path if server else tmp_path / "missing-ca.pem"
    path.write_text(config_text(port, ca, **options))
    return path


def digest(store_path: Path, config_path: Path, *args: str):
    return CliRunner().invoke(
        cli, ["--db", str(store_path), "--config", str(config_path), "digest", *args]
    )


def sent_attempts(store_path: Path) -> list[tuple[str, int]]:
    with db.connect(store_path, read_only=True) as con:
        return con.execute(
            "SELECT status, alert_count FROM digests ORDER BY created_at, status"
        ).fetchall()


def test_received_message_has_headers_parts_grouping_links_and_health(tmp_path, store_path):
    with SmtpServer(tmp_path) as server:
        result = digest(store_path, write_config(tmp_path, server))
        assert result.exit_code == 0, result.output
        assert len(server.messages) == 1
        received = server.messages[0]
    assert received.tls and received.authenticated
    assert received.mail_from == "tokensentry@example.org"
    assert received.rcpt_tos == ["secops@example.org", "oncall@example.org"]
    message = received.message
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert re.match(
        r"\[tokensentry\] 1 critical, 2 high, 1 medium, \d+ pipeline problems, 20",
        message["Subject"],
    )
    assert message["From"] == "tokensentry@example.org"
    assert message["To"] == "secops@example.org, oncall@example.org"
    assert message["Message-ID"].startswith("<digest-")
    assert message["Auto-Submitted"] == "auto-generated"
    text, html = received.part("plain"), received.part("html")
    for part in (text, html):
        assert "https://tokensentry.example.org/alert?id=a1reuse000000000001" in part
        assert "https://tokensentry.example.org/alert?id=a4newnet00000000004" in part
        assert "Quarantined rows since the last digest: 2" in part
        assert "LoginEvent needs Shield" in part
    critical, high, medium = (text.index(f"== {s}: ") for s in ("CRITICAL", "HIGH", "MEDIUM"))
    assert critical < text.index("refresh_token_reuse, org") < high < medium
    assert (
        high < text.index("off_allowlist_ip, org") < text.index("suspicious_client, org") < medium
    )
    # org × source from the one health query: the configured alias, else the org id
    assert re.search(r"failed: (acme-prod|00D5g000004XyZa\w*)/oauth_token: failed: HTTP 503", text)
    # one health answer per org × source: a failed source is listed as failed, not also stale
    assert not re.search(r"stale: (acme-prod|00D5g000004XyZa\w*)/oauth_token", text)
    assert sent_attempts(store_path) == [("sent", 4)]


def test_server_down_exits_1_and_the_next_run_sends_both_nights_once(tmp_path, store_path):
    port = free_port()
    config_path = tmp_path / "tokensentry.toml"
    # Night 1: the server is down.
    with SmtpServer(tmp_path, port=port):
        pass  # writes the CA; the server is stopped again before the digest runs
    config_path.write_text(config_text(port, tmp_path / "smtp-ca.pem"))
    down = digest(store_path, config_path)
    assert down.exit_code == 1
    assert f"cannot deliver to SMTP server 127.0.0.1:{port}" in down.stderr
    assert "nothing marked sent" in down.stderr
    assert sent_attempts(store_path) == [("failed", 4)]
    # Night 2: more alerts, the server is back.
    with db.connect(store_path) as con:
        insert_alerts(con, night_two_alerts(), detected_at=NIGHT_2)
    with SmtpServer(tmp_path, port=port) as server:
        config_path.write_text(config_text(port, server.ca_path))
        assert digest(store_path, config_path).exit_code == 0
        again = digest(store_path, config_path)
        assert again.exit_code == 0
        assert "nothing new since the last digest; none sent" in again.stderr
        assert len(server.messages) == 1
        text = server.messages[0].part("plain")
    ids = [a.alert_id for a in night_one_alerts() + night_two_alerts()]
    assert all(text.count(f"alert?id={alert_id}") == 1 for alert_id in ids)
    flat = " ".join(text.split())
    assert "digest not delivered" in flat and "cannot deliver to SMTP server" in flat
    with db.connect(store_path, read_only=True) as con:
        assert all(state.sent_alert_count(con, alert_id) == 1 for alert_id in ids)


def test_server_refusal_is_reported_with_its_reason(tmp_path, store_path):
    with SmtpServer(tmp_path) as server:
        server.recorder.refuse_with = "554 5.7.1 Message rejected: policy violation"
        result = digest(store_path, write_config(tmp_path, server))
    assert result.exit_code == 1
    assert "refused: 554 5.7.1 Message rejected: policy violation" in result.stderr
    assert sent_attempts(store_path) == [("failed", 4)]
    with db.connect(store_path, read_only=True) as con:
        assert con.execute(
            "SELECT status, error FROM runs WHERE stage = 'digest'"
        ).fetchone() == ("failed", "SMTP server 127.0.0.1:" + str(server.port) + " refused: "
                         "554 5.7.1 Message rejected: policy violation")  # fmt: skip


def test_one_refused_recipient_is_reported_but_the_digest_counts_as_sent(tmp_path, store_path):
    with SmtpServer(tmp_path) as server:
        server.recorder.unknown_recipients = {"oncall@example.org"}
        result = digest(store_path, write_config(tmp_path, server))
        (received,) = server.messages
    assert received.rcpt_tos == ["secops@example.org"]
    assert result.exit_code == 1  # someone did not get it: cron must say so
    assert "refused some recipients: oncall@example.org: 550 5.1.1 No such user here" in (
        result.stderr
    )
    assert sent_attempts(store_path) == [("sent", 4)]  # accepted, so never sent again


def test_nothing_new_sends_nothing_or_the_all_clear_when_configured(tmp_path, store_path):
    with SmtpServer(tmp_path) as server:
        config_path = write_config(tmp_path, server)
        assert digest(store_path, config_path).exit_code == 0
        assert digest(store_path, config_path).exit_code == 0
        assert len(server.messages) == 1
        config_path = write_config(tmp_path, server, send_when_empty=True)
        assert digest(store_path, config_path).exit_code == 0
        assert len(server.messages) == 2
        all_clear = server.messages[1]
    assert "all clear" in all_clear.message["Subject"]
    assert "All clear: no new or changed alerts since the last digest (" in all_clear.part("plain")
    assert "All clear: no new or changed alerts" in all_clear.part("html")


def test_a_severity_rise_is_news_and_resend_repeats_on_request(tmp_path, store_path):
    with SmtpServer(tmp_path) as server:
        config_path = write_config(tmp_path, server)
        assert digest(store_path, config_path).exit_code == 0
        with db.connect(store_path) as con:
            con.execute(
                "UPDATE alerts SET severity = 'high' WHERE alert_id = 'a4newnet00000000004'"
            )
        assert digest(store_path, config_path).exit_code == 0
        risen = server.messages[1]
        assert risen.message["Subject"].startswith("[tokensentry] 1 high, ")
        assert "alert?id=a4newnet00000000004" in risen.part("plain")
        assert digest(store_path, config_path, "--resend", "--since", "2026-05-01").exit_code == 0
        resent = server.messages[2]
    assert resent.message["X-Tokensentry-Alerts"] == "4"
    assert resent.message["Message-ID"] not in {
        m.message["Message-ID"] for m in server.messages[:2]
    }
    assert "Resent on request." in resent.part("plain")


def test_an_unrecorded_acceptance_is_resent_byte_for_byte_not_rebuilt(tmp_path, store_path):
    """A crash after the server accepted but before 'sent' was written: the next run sends the
    same bytes (same Message-ID, which mail systems deduplicate), then only what is new."""
    with SmtpServer(tmp_path) as server:
        config_path = write_config(tmp_path, server)
        config = config_module.load(config_path)
        with db.connect(store_path) as con:
            content = collect(con, config, now=NIGHT_1)
            message = build_message(content, config, config.digest.to)
            state.begin(con, content, message, config.digest.to)
            insert_alerts(con, night_two_alerts(), detected_at=NIGHT_2)
        outcome = run_digest(store_path, config, now=lambda: NIGHT_2, log=lambda _: None)
        assert outcome.status == "sent"
        first, second = server.messages
    assert first.raw.replace(b"\r\n", b"\n") == bytes(message).replace(b"\r\n", b"\n")
    assert "alert?id=b1travel00000000001" in second.part("plain")
    assert "alert?id=a1reuse000000000001" not in second.part("plain")
    assert [s for s, _ in sent_attempts(store_path)] == ["sent", "sent"]


def test_to_override_and_dry_run(tmp_path, store_path):
    with SmtpServer(tmp_path) as server:
        config_path = write_config(tmp_path, server)
        eml = tmp_path / "out" / "digest.eml"
        dry = digest(store_path, config_path, "--dry-run", str(eml))
        assert dry.exit_code == 0 and not server.messages
        assert stat.S_IMODE(os.stat(eml).st_mode) == 0o600
        assert b"Subject: [tokensentry] 1 critical" in eml.read_bytes()
        assert sent_attempts(store_path) == []
        result = digest(store_path, config_path, "--to", "ir-lead@example.org")
        assert result.exit_code == 0
        assert server.messages[0].rcpt_tos == ["ir-lead@example.org"]


def test_starttls_missing_means_nothing_is_sent_in_clear(tmp_path, store_path):
    with SmtpServer(tmp_path, starttls=False) as server:
        result = digest(store_path, write_config(tmp_path, server))
        assert result.exit_code == 1
        assert "does not support STARTTLS" in result.stderr
        assert server.recorder.login_tries == 0 and not server.messages


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # it is TLS throughout
def test_implicit_tls(tmp_path, store_path):
    with SmtpServer(tmp_path, implicit_tls=True) as server:
        result = digest(store_path, write_config(tmp_path, server, security="tls"))
        assert result.exit_code == 0, result.stderr
        (received,) = server.messages
    assert received.tls and received.authenticated


def test_untrusted_certificate_is_refused(tmp_path, store_path):
    with SmtpServer(tmp_path) as server:
        config_path = write_config(tmp_path, server)
        (tmp_path / "other").mkdir()
        other = SmtpServer(tmp_path / "other")  # never started: only its different CA is used
        config_path.write_text(
            config_path.read_text().replace(str(server.ca_path), str(other.ca_path))
        )
        result = digest(store_path, config_path)
        assert result.exit_code == 1
        assert (
            "TLS with SMTP server" in result.stderr and "CERTIFICATE_VERIFY_FAILED" in result.stderr
        )
        assert server.recorder.login_tries == 0 and not server.messages


def test_security_none_with_credentials_is_a_config_error(tmp_path, store_path):
    with SmtpServer(tmp_path, starttls=False) as server:
        result = digest(store_path, write_config(tmp_path, server, security="none"))
        assert result.exit_code == 2
        assert "never sent over an unencrypted connection" in " ".join(result.stderr.split())
        assert server.recorder.login_tries == 0
        plain = digest(
            store_path, write_config(tmp_path, server, security="none", credentials=False)
        )
        assert plain.exit_code == 0, plain.stderr
        assert not server.messages[0].tls


def test_wrong_password_is_refused_with_the_servers_reason(tmp_path, store_path, monkeypatch):
    monkeypatch.setenv("TS_TEST_SMTP_PASSWORD", "wrong")
    with SmtpServer(tmp_path) as server:
        result = digest(store_path, write_config(tmp_path, server))
    assert result.exit_code == 1
    assert "refused: 535" in result.stderr
    assert sent_attempts(store_path) == [("failed", 4)]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_first_digest_window_is_the_last_day_of_data(tmp_path, store_path):
    with db.connect(store_path) as con:
        insert_alerts(con, night_two_alerts(), detected_at=NIGHT_2)
    with SmtpServer(tmp_path) as server:
        assert digest(store_path, write_config(tmp_path, server)).exit_code == 0
        text = server.messages[0].part("plain")
    assert "alert?id=b1travel00000000001" in text
    # night one's critical is older than the window, but open and never mailed: listed, marked
    assert "alert?id=a1reuse000000000001" in text and "never mailed" in text
    assert _at("2026-05-11T01:20") - timedelta(hours=24) < NIGHT_2
