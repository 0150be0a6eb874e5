"""A real SMTP server on loopback (aiosmtpd, STARTTLS with a throw-away certificate, AUTH) and
a small fixed alert set, shared by the digest and nightly tests."""

from __future__ import annotations

import email
import email.policy
import json
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import duckdb
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from dashboard.bench.render import free_port
from ingest import config as config_module

USERNAME = "tokensentry"
PASSWORD = "s3cret-smtp"
NIGHT_1 = datetime(2026, 5, 11, 2, 0)
NIGHT_2 = datetime(2026, 5, 12, 2, 0)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    authenticated: bool
    tls: bool

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)  # type: ignore[return-value]

    def part(self, subtype: str) -> str:
        body = self.message.get_body((subtype,))
        assert body is not None, f"no text/{subtype} part"
        return body.get_content()


@dataclass
class Recorder:
    """The server's DATA handler: keeps what it accepted, or refuses with a set reply."""

    messages: list[Received] = field(default_factory=list)
    refuse_with: str | None = None
    unknown_recipients: set[str] = field(default_factory=set)
    login_tries: int = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.unknown_recipients:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's hook name
        if self.refuse_with:
            return self.refuse_with
        self.messages.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.original_content or envelope.content,
                bool(session.authenticated),
                # Set for STARTTLS and for a socket that is TLS from the start alike.
                server.transport.get_extra_info("ssl_object") is not None,
            )
        )
        return "250 2.0.0 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on 127.0.0.1 with STARTTLS required before AUTH, and AUTH required before
    MAIL (the usual submission-port setup), its certificate issued by a throw-away CA."""

    def __init__(
        self,
        folder: Path,
        *,
        port: int | None = None,
        starttls: bool = True,
        implicit_tls: bool = False,
    ) -> None:
        self.port = port or free_port()
        self.recorder = Recorder()
        self.ca_path = folder / "smtp-ca.pem"
        ca = trustme.CA()
        ca.cert_pem.write_to_path(str(self.ca_path))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        recorder = self.recorder

        def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
            recorder.login_tries += 1
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login == USERNAME.encode()
                and auth_data.password == PASSWORD.encode()
            )
            return AuthResult(success=ok, handled=False)  # False: let aiosmtpd reply 535

        options: dict[str, object] = (
            # aiosmtpd's auth_require_tls only knows STARTTLS; this socket is TLS from the start.
            {
                "ssl_context": context,
                "authenticator": authenticator,
                "auth_required": True,
                "auth_require_tls": False,
            }
            if implicit_tls
            else {
                "tls_context": context,
                "require_starttls": True,
                "authenticator": authenticator,
                "auth_required": True,
                "auth_require_tls": True,
            }
            if starttls
            else {"authenticator": authenticator, "auth_require_tls": False}
        )
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port, **options)

    @property
    def messages(self) -> list[Received]:
        return self.recorder.messages

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def config_text(
    port: int,
    ca_path: Path,
    *,
    security: str = "starttls",
    send_when_empty: bool = False,
    credentials: bool = True,
    extra: str = "",
) -> str:
    auth = f'username = "{USERNAME}"\npassword = {{ env = "TS_TEST_SMTP_PASSWORD" }}\n'
    return (
        "[digest]\n"
        'smtp_host = "127.0.0.1"\n'
        f"smtp_port = {port}\n"
        f'security = "{security}"\n'
        f'ca_bundle = "{ca_path}"\n'
        + (auth if credentials else "")
        + 'from = "tokensentry@example.org"\n'
        'to = ["secops@example.org", "oncall@example.org"]\n'
        'dashboard_url = "https://tokensentry.example.org/"\n'
        f"send_when_empty = {'true' if send_when_empty else 'false'}\n" + extra
    )


@dataclass(frozen=True)
class FixedAlert:
    alert_id: str
    detector: str
    severity: str
    org_id: str
    app: str | None
    summary: str
    ips: tuple[str, ...]
    first_seen: datetime
    user_id: str | None = "0055g00000IntAcAAJ"


ACME = "00D5g000004XyZaEAK"
GLOBEX = "00D5g000007PqRsEAK"


def night_one_alerts() -> list[FixedAlert]:
    base = NIGHT_1 - timedelta(hours=5)
    return [
        FixedAlert(
            "a1reuse000000000001", "refresh_token_reuse", "critical", ACME, "Acme Sync",
            "A rotated refresh token of Acme Sync was presented again from 185.220.101.33 "
            "after worker w-2 had already exchanged it.",
            ("185.220.101.33", "203.0.113.5"), base,
        ),
        FixedAlert(
            "a2offallow000000002", "off_allowlist_ip", "high", ACME, "Acme Sync",
            "Acme Sync refreshed a token from 185.220.101.33, outside its allowlist.",
            ("185.220.101.33",), base + timedelta(minutes=3),
        ),
        FixedAlert(
            "a3client00000000003", "suspicious_client", "high", GLOBEX, "Globex <b>Reports</b>",
            "User agent python-requests/2.31 fetched a token; see https://evil.example.com/x "
            "and ops\u202eexe.moc for more.",
            ("198.51.100.23",), base + timedelta(hours=1),
        ),
        FixedAlert(
            "a4newnet00000000004", "new_network", "medium", GLOBEX, "Globex <b>Reports</b>",
            "Globex Reports refreshed from 198.51.100.0/24 (NL), a network it never used.",
            ("198.51.100.23",), base + timedelta(hours=1, minutes=2),
        ),
    ]  # fmt: skip


def night_two_alerts() -> list[FixedAlert]:
    base = NIGHT_2 - timedelta(hours=1)
    return [
        FixedAlert(
            "b1travel00000000001", "impossible_travel", "high", ACME, None,
            "User 0055g00000IntAcAAJ logged in from Paris then from Sydney 40 minutes later.",
            ("192.0.2.10", "198.51.100.77"), base,
        ),
    ]  # fmt: skip


def insert_alerts(
    con: duckdb.DuckDBPyConnection, alerts: list[FixedAlert], *, detected_at: datetime
) -> None:
    for alert in alerts:
        last_seen = alert.first_seen + timedelta(minutes=20)
        con.execute(
            """INSERT INTO alerts (alert_id, detector_id, dedup_key, severity, org_id, app_name, user_id, ips, first_seen_at, last_seen_at, event_count, event_ids, title, summary, evidence, first_run_id, last_run_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 3, [], ?, ?, ?, 'r1', 'r1',
                                          ?, ?)""",
            [
                alert.alert_id,
                alert.detector,
                alert.alert_id,
                alert.severity,
                alert.org_id,
                alert.app,
                alert.user_id,
                list(alert.ips),
                alert.first_seen,
                last_seen,
                alert.detector.replace("_", " "),
                alert.summary,
                json.dumps({}),
                detected_at,
                detected_at,
            ],
        )
        # The store's newest event: the digest's first window is the last 24 h of data.
        con.execute(
            """INSERT INTO events (event_id, org_id, occurred_at, event_type, sources,
                                   first_run_id, ingested_at, updated_at)
               VALUES (?, ?, ?, 'login', ['test'], 'r1', ?, ?)""",
            [f"e-{alert.alert_id}", alert.org_id, last_seen, detected_at, detected_at],
        )


def add_pipeline_trouble(con: duckdb.DuckDBPyConnection, at: datetime) -> None:
    """One failed ingest unit, one missing a permission, one source not available, one stale
    source, one retention gap, two quarantined rows."""
    rows = [
        ("r-old", "ingest", "acme-prod/oauth_token", ACME, at - timedelta(hours=30), "ok", None),
        ("r-new", "ingest", "acme-prod/oauth_token", ACME, at - timedelta(hours=2), "failed",
         "HTTP 503 from https://acme.my.salesforce.com/services/data"),
        ("r-new", "ingest", "acme-prod/login_event", ACME, at - timedelta(hours=2),
         "not_available", "LoginEvent needs Shield or the Event Monitoring add-on"),
        ("r-new", "ingest", "acme-prod/login_history", ACME, at - timedelta(hours=2), "ok", None),
        ("r-new", "ingest", "acme-prod/event_log_file", ACME, at - timedelta(hours=2), "partial",
         "the integration user lacks View Event Log Files: no EventLogFile rows"),
    ]  # fmt: skip
    for run_id, stage, unit, org, started, status, error in rows:
        con.execute(
            "INSERT INTO runs (run_id, stage, unit_id, org_id, started_at, finished_at, status, "
            "error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, stage, unit, org, started, started, status, error],
        )
    con.execute(
        "INSERT INTO retention_gaps VALUES (?, 'login_history', ?, ?, 180, 'free', true, 'r-new', ?)",
        [ACME, at - timedelta(days=200), at - timedelta(days=180), at - timedelta(hours=2)],
    )
    for line in (3, 9):
        con.execute(
            "INSERT INTO quarantine (quarantine_id, run_id, origin, line, reason, raw_text, quarantined_at) VALUES (?, 'r-new', 'exports/login.csv', ?, 'bad timestamp', "
            "NULL, ?)",
            [f"q{line}", line, at - timedelta(hours=1)],
        )


# The configuration the content tests render with: links, and one org with an alias.
CONFIG = config_module.parse(
    {
        "digest": {
            "from": "tokensentry@example.org",
            "to": ["secops@example.org"],
            "dashboard_url": "https://tokensentry.example.org/",
        },
        "orgs": {
            "acme-prod": {
                "org_id": "00D5g000004XyZaEAK",
                "instance_url": "https://acme.my.salesforce.com",
            }
        },
    },
    base_dir=Path("."),
)
