"""The digest as a stdlib `EmailMessage`: multipart/alternative, text first, HTML second."""

from __future__ import annotations

import email.policy
import os
from datetime import UTC
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from ingest.config import Config, DigestConfig
from ingest.errors import ConfigError

from .content import DigestContent
from .render import RenderOptions, render_html, render_text, subject

DEFAULT_SENDER = "tokensentry@localhost"
# RFC 5322 allows 998-character lines; folding at 78 would move a long Subject onto a
# continuation line, which some clients (and Python's own parser) show with a leading space.
MAIL_POLICY = email.policy.SMTP.clone(max_line_length=998)


def render_options(config: Config) -> RenderOptions:
    labels = {org.org_id: alias for alias, org in config.orgs.items() if org.org_id}
    return RenderOptions(
        dashboard_url=config.digest.dashboard_url,
        max_per_severity=config.digest.max_per_severity,
        org_labels=labels,
    )


def recipients(settings: DigestConfig, override: tuple[str, ...] = ()) -> tuple[str, ...]:
    chosen = override or settings.to
    if not chosen:
        raise ConfigError("digest.to: no recipients (set [digest] to = [...] or pass --to)")
    for address in chosen:
        if "@" not in address or any(c in address for c in "\r\n,<>"):
            raise ConfigError(f"digest.to: {address!r} is not one plain email address")
    return chosen


def build_message(content: DigestContent, config: Config, to: tuple[str, ...]) -> EmailMessage:
    """Headers, a plain-text part and an HTML part; pure (the content was read already)."""
    sender = config.digest.sender or DEFAULT_SENDER
    domain = sender.rpartition("@")[2] or "localhost"
    options = render_options(config)
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = subject(content)
    message["From"] = sender
    if to:  # a --dry-run without recipients still writes a readable message
        message["To"] = ", ".join(to)
    message["Date"] = format_datetime(content.now.replace(tzinfo=UTC))
    message["Message-ID"] = content.message_id(domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
    message["X-Tokensentry-Alerts"] = str(len(content.alerts))
    message.set_content(render_text(content, options))
    message.add_alternative(render_html(content, options), subtype="html")
    return message


def write_eml(path: Path, message: EmailMessage) -> Path:
    """Write the exact message to `path`, readable by its owner only (0600): a digest names
    the security team's open findings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = bytes(message)
    # Created 0600 from the start (not chmod afterwards), so no reader can open it in between.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)  # an existing file keeps its old mode through O_CREAT
    return path
