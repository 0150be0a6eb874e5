"""Hand a message to the SMTP server named in `[digest]`: a few lines of `smtplib`, plus the
one rule that matters: credentials never travel over a connection that is not encrypted."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage

from ingest.config import DigestConfig
from ingest.errors import ConfigError, TokensentryError

TIMEOUT_S = 60.0


class DeliveryError(TokensentryError):
    """The server was unreachable or did not accept the message; nothing was delivered."""


def check_ready(settings: DigestConfig, to: Sequence[str]) -> None:
    """Fail early (exit 2) on a [digest] section that cannot deliver: no server, no
    recipients, credentials over a plain connection, or a password reference that does not
    resolve. The nightly job calls it before it ingests anything."""
    if not settings.smtp_host:
        raise ConfigError("digest.smtp_host: missing (or write the message with --dry-run FILE)")
    if not to:
        raise ConfigError("digest.to: no recipients (set [digest] to = [...] or pass --to)")
    if settings.password is not None and not settings.username:
        raise ConfigError("digest.username: missing (digest.password needs a username)")
    if settings.username and settings.security == "none":
        raise ConfigError(
            "digest.security: credentials are never sent over an unencrypted connection; "
            'use "starttls" or "tls"'
        )
    if settings.password is not None:
        settings.password.resolve()  # raises naming digest.password and the variable or file
    if settings.ca_bundle is not None and not settings.ca_bundle.is_file():
        raise ConfigError(f"digest.ca_bundle: {settings.ca_bundle} is not a readable file")


def send(
    message: EmailMessage | bytes,
    settings: DigestConfig,
    to: Sequence[str],
    *,
    timeout: float = TIMEOUT_S,
) -> dict[str, tuple[int, bytes]]:
    """Deliver `message` to `to`. Returns the recipients the server refused while accepting
    the others (empty when all were accepted); raises DeliveryError with the server's reason
    when it accepted none."""
    check_ready(settings, to)
    host, port, security = settings.smtp_host, settings.smtp_port, settings.security
    password = settings.password.resolve().rstrip("\r\n") if settings.password else None
    context = ssl.create_default_context(
        cafile=str(settings.ca_bundle) if settings.ca_bundle else None
    )
    where = f"{host}:{port}"
    sender = settings.sender or _header(message, "From") or "tokensentry@localhost"
    try:
        if security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            client.ehlo()
            if security == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if settings.username:
                # Belt and braces: never reach login() on a plain socket, whatever the setting.
                if not isinstance(client.sock, ssl.SSLSocket):
                    raise DeliveryError(
                        f"{where}: connection not encrypted; not sending credentials"
                    )
                client.login(settings.username, password or "")
            if isinstance(message, EmailMessage):
                return client.send_message(message, from_addr=sender, to_addrs=list(to))
            return client.sendmail(sender, list(to), message)
    except smtplib.SMTPNotSupportedError as exc:
        if "STARTTLS" in str(exc).upper():
            raise DeliveryError(
                f"SMTP server {where} does not support STARTTLS; nothing sent (with "
                'security = "starttls" neither credentials nor the digest travel in clear text)'
            ) from None
        raise DeliveryError(f"SMTP server {where} refused: {exc}") from None
    except smtplib.SMTPRecipientsRefused as exc:
        reasons = "; ".join(f"{addr}: {_reply(*reply)}" for addr, reply in exc.recipients.items())
        raise DeliveryError(f"SMTP server {where} refused every recipient: {reasons}") from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(
            f"SMTP server {where} refused: {_reply(exc.smtp_code, exc.smtp_error)}"
        ) from None
    except (ssl.SSLError, ssl.CertificateError) as exc:
        raise DeliveryError(f"TLS with SMTP server {where} failed: {exc}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"cannot deliver to SMTP server {where}: {exc}") from None


def _reply(code: int, text: bytes | str) -> str:
    detail = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(detail.split())}"


def _header(message: EmailMessage | bytes, name: str) -> str | None:
    return message[name] if isinstance(message, EmailMessage) else None
