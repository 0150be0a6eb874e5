"""What each webhook has been sent (migration 014): alert states queued with their exact body,
then delivered or still pending.

An alert state is (alert_id, severity), as for the digest: an open alert (new or acknowledged,
not superseded) at the webhook's `min_severity` or above is queued once per state; a rise in
severity is a new state and is posted again. A queued row keeps its body, so every resend is
byte-identical and carries the same idempotency key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from ingest.formats.redact import redact

from .. import queries
from ..queries.alerts import SEVERITY_RANK
from .webhook_payload import idempotency_key

OPEN_STATUSES = ("new", "acknowledged")

NEW_STATES_SQL = f"""
SELECT a.alert_id FROM alerts a LEFT JOIN triage t USING (alert_id)
WHERE a.superseded_at IS NULL AND list_contains(?, coalesce(t.status, 'new'))
  AND {SEVERITY_RANK.format("a.severity")} >= {SEVERITY_RANK.format("?")}
  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                  WHERE d.webhook = ? AND d.alert_id = a.alert_id AND d.severity = a.severity)
"""


@dataclass(frozen=True)
class Pending:
    key: str
    alert_id: str
    severity: str
    body: bytes
    attempts: int


def queue_new(
    con: duckdb.DuckDBPyConnection,
    webhook: str,
    kind: str,
    min_severity: str,
    now: datetime,
    body_of: Callable[[dict[str, Any], str], bytes],
) -> int:
    """Queue every alert state this webhook has not been sent; return how many. The records
    are the ones `alerts --format json` prints (one query, `queries.alerts`)."""
    ids = [
        row[0]
        for row in con.execute(
            NEW_STATES_SQL, [list(OPEN_STATUSES), min_severity, webhook]
        ).fetchall()
    ]
    if not ids:
        return 0
    # Secrets scrubbed on the way out, as in every export (`alerts --format json`).
    records = redact(queries.alert_records(queries.alerts(con, alert_ids=ids)))
    rows = []
    for record in records:
        key = idempotency_key(record["alert_id"], record["severity"])
        rows.append((key, record["alert_id"], record["severity"], body_of(record, key)))
    con.execute("BEGIN TRANSACTION")
    try:
        con.executemany(
            """INSERT INTO webhook_deliveries (webhook, idempotency_key, alert_id, severity,
                   kind, body, status, created_at)
               VALUES (?, ?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT DO NOTHING""",
            [(webhook, key, alert, sev, kind, body, now) for key, alert, sev, body in rows],
        )
        con.execute("COMMIT")
    except duckdb.Error:
        con.execute("ROLLBACK")
        raise
    return len(rows)


def pending(con: duckdb.DuckDBPyConnection, webhook: str) -> list[Pending]:
    """What this webhook has not acknowledged yet, most severe first, then oldest."""
    rows = con.execute(
        f"""SELECT idempotency_key, alert_id, severity, body, attempts FROM webhook_deliveries
            WHERE webhook = ? AND status = 'pending'
            ORDER BY {SEVERITY_RANK.format("severity")} DESC, created_at, alert_id""",
        [webhook],
    ).fetchall()
    return [Pending(r[0], r[1], r[2], bytes(r[3]), r[4]) for r in rows]


def record_attempt(
    con: duckdb.DuckDBPyConnection,
    webhook: str,
    key: str,
    now: datetime,
    *,
    http_status: int | None,
    error: str | None,
) -> None:
    """One attempt's answer: delivered on a 2xx (error None), still pending otherwise."""
    delivered = error is None
    con.execute(
        """UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = ?,
               http_status = ?, error = ?,
               status = CASE WHEN ? THEN 'delivered' ELSE status END,
               delivered_at = CASE WHEN ? THEN ? ELSE delivered_at END
           WHERE webhook = ? AND idempotency_key = ?""",
        [now, http_status, error, delivered, delivered, now, webhook, key],
    )
