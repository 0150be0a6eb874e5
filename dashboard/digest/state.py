"""What the digest has sent: attempts and the alert states they cover (migration 007).

An attempt is written as 'sending' with its exact bytes before the message goes to the server,
and becomes 'sent' only after the server accepted it; 'failed' when the server refused. The
covered alert states count as mailed only for 'sent' attempts (dashboard/queries/digest.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

import duckdb

from .content import DigestContent


@dataclass(frozen=True)
class Unfinished:
    attempt_id: str
    message_id: str
    recipients: tuple[str, ...]
    message: bytes


def begin(
    con: duckdb.DuckDBPyConnection,
    content: DigestContent,
    message: EmailMessage,
    to: tuple[str, ...],
) -> str:
    attempt_id = uuid.uuid4().hex
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            """INSERT INTO digests (attempt_id, message_id, status, covers_since, created_at,
                   recipients, alert_count, partial, message)
               VALUES (?, ?, 'sending', ?, ?, ?, ?, ?, ?)""",
            [
                attempt_id,
                message["Message-ID"],
                content.covers_since,
                content.now,
                list(to),
                len(content.alerts),
                content.partial,
                bytes(message),
            ],
        )
        members = [(alert, group.incident_id) for group in content.groups for alert in group.alerts]
        if members:  # one statement over lists: executemany costs a round trip per row
            con.execute(
                "INSERT INTO digest_items SELECT ?, unnest(?), unnest(?), unnest(?)",
                [
                    attempt_id,
                    [alert.alert_id for alert, _ in members],
                    [alert.severity for alert, _ in members],
                    [incident_id for _, incident_id in members],
                ],
            )
        con.execute("COMMIT")
    except duckdb.Error:
        con.execute("ROLLBACK")
        raise
    return attempt_id


def mark_sent(con: duckdb.DuckDBPyConnection, attempt_id: str, now: datetime) -> None:
    con.execute(
        "UPDATE digests SET status = 'sent', sent_at = ?, error = NULL WHERE attempt_id = ?",
        [now, attempt_id],
    )


def mark_failed(con: duckdb.DuckDBPyConnection, attempt_id: str, error: str) -> None:
    con.execute(
        "UPDATE digests SET status = 'failed', error = ? WHERE attempt_id = ?",
        [error, attempt_id],
    )


def unfinished(con: duckdb.DuckDBPyConnection) -> list[Unfinished]:
    """Attempts a crash left between handing the message over and recording the answer."""
    rows = con.execute(
        """SELECT attempt_id, message_id, recipients, message FROM digests
           WHERE status = 'sending' ORDER BY created_at"""
    ).fetchall()
    return [Unfinished(row[0], row[1], tuple(row[2]), bytes(row[3])) for row in rows]


def sent_alert_count(con: duckdb.DuckDBPyConnection, alert_id: str) -> int:
    """How many sent digests covered this alert (any severity): tests and the dashboard."""
    row = con.execute(
        """SELECT count(*) FROM digest_items i JOIN digests d USING (attempt_id)
           WHERE d.status = 'sent' AND i.alert_id = ?""",
        [alert_id],
    ).fetchone()
    return int(row[0]) if row else 0
