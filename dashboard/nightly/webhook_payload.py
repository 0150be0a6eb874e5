"""What a webhook receives: the body (generic JSON, or a Slack message), its idempotency key and
its signature headers.

Generic JSON (`kind = "json"`), `Content-Type: application/json`:

    {"type": "tokensentry.alert", "version": 1, "idempotency_key": "...", "link": "...",
     "alert": {CONTRACT §5 record}, "ocsf": {OCSF Detection Finding}}

Headers on every post (both kinds):

- `Idempotency-Key`: sha256 of the alert id and the state announced (its severity), the same
  on every resend of that state; a receiver drops a key it has already processed.
- `X-Tokensentry-Timestamp`: Unix seconds when this attempt was sent.
- `X-Tokensentry-Signature`: `v1=` + hex HMAC-SHA256, keyed with `[webhooks.NAME] secret`, of
  the bytes `{timestamp}.{body}` (the timestamp header's value, a full stop, the raw body). A
  receiver recomputes it over the raw body, compares in constant time and refuses a timestamp
  more than 5 minutes from its clock, so a captured post cannot be replayed later.

Slack (`kind = "slack"`): an incoming-webhook message, `text` (the notification) + `blocks`.
Every string from a log (summary, app, user, org, IPs) is escaped for mrkdwn (& < > as
&amp; &lt; &gt;, so no `<!channel>`, `<@U…>` or `<url|label>` can be formed), defanged like the
digest (`hxxps[:]//evil[.]example`: no autolinked URL or domain), with `@` made a full-width ＠
(no bare @channel / @here) and every text object `verbatim` (Slack links and mentions
nothing). Our own link to the dashboard is the only URL, on a button.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from ..digest.defang import defang
from ..export.ocsf import alert_finding

SIGNATURE_HEADER = "X-Tokensentry-Signature"
TIMESTAMP_HEADER = "X-Tokensentry-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
PAYLOAD_TYPE = "tokensentry.alert"
SLACK_TEXT_MAX = 3000  # a mrkdwn text object's limit
SLACK_HEADER_MAX = 150  # a header block's plain_text limit
SEVERITY_MARK = {
    "critical": ":red_circle:",
    "high": ":large_orange_circle:",
    "medium": ":large_yellow_circle:",
    "low": ":large_blue_circle:",
    "info": ":white_circle:",
}


def idempotency_key(alert_id: str, severity: str) -> str:
    """The same for every post of one alert state, whatever the run or the webhook."""
    return hashlib.sha256(f"tokensentry/alert/{alert_id}/{severity}".encode()).hexdigest()[:32]


def alert_link(dashboard_url: str | None, alert_id: str) -> str | None:
    if not dashboard_url:
        return None
    return f"{dashboard_url.rstrip('/')}/alert?id={quote(alert_id, safe='')}"


def json_body(record: Mapping[str, Any], key: str, dashboard_url: str | None) -> bytes:
    payload = {
        "type": PAYLOAD_TYPE,
        "version": 1,
        "idempotency_key": key,
        "link": alert_link(dashboard_url, record["alert_id"]),
        "alert": dict(record),
        "ocsf": alert_finding(record, dashboard_url=dashboard_url),
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()


def slack_body(
    record: Mapping[str, Any], dashboard_url: str | None, org_label: str | None = None
) -> bytes:
    return json.dumps(
        slack_message(record, dashboard_url, org_label), separators=(",", ":")
    ).encode()


def slack_message(
    record: Mapping[str, Any], dashboard_url: str | None, org_label: str | None = None
) -> dict[str, Any]:
    severity, detector = record["severity"], record["detector"]
    summary = mrkdwn(record["summary"], limit=SLACK_TEXT_MAX - 20)
    org = mrkdwn(record.get("org_id") or "unknown")
    if org_label:
        org = f"{mrkdwn(org_label)} ({org})"
    user = record.get("username") or record.get("user_id")
    fields = [
        ("Org", org),
        ("App", mrkdwn(record.get("app") or "unknown")),
        ("User", mrkdwn(user) if user else "unknown"),
        ("IPs", ", ".join(mrkdwn(ip) for ip in record.get("ips") or []) or "none"),
        ("Seen (UTC)", f"{_minute(record['first_seen'])} to {_minute(record['last_seen'])}"),
        ("Alert id", f"`{mrkdwn(record['alert_id'])}`"),
    ]
    title = f"{severity.upper()} {detector}"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _plain(title, SLACK_HEADER_MAX)},
        },
        {"type": "section", "text": _mrkdwn_object(summary)},
        {
            "type": "section",
            "fields": [_mrkdwn_object(f"*{name}*\n{value}") for name, value in fields],
        },
        {
            "type": "context",
            "elements": [
                _mrkdwn_object(
                    f"tokensentry · {mrkdwn(detector)} · {record['event_count']} event(s) · "
                    f"status {mrkdwn(record['status'])}"
                )
            ],
        },
    ]
    link = alert_link(dashboard_url, record["alert_id"])
    if link:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open alert"},
                        "url": link,
                    }
                ],
            }
        )
    mark = SEVERITY_MARK.get(severity, "")
    text = f"{mark} tokensentry {mrkdwn(severity)} {mrkdwn(detector)}: {summary}"
    return {"text": text[:SLACK_TEXT_MAX], "blocks": blocks}


def mrkdwn(value: object, limit: int = 300) -> str:
    """Attacker-controlled text made inert in Slack mrkdwn: one line, defanged (no autolinked
    URL or domain), `@` full-width (no @channel), then & < > escaped as Slack asks."""
    text = defang(value, limit).replace("@", "\uff20")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(value: str, limit: int) -> str:
    text = defang(value, limit).replace("@", "\uff20")
    return text[:limit]


def _mrkdwn_object(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text[:SLACK_TEXT_MAX], "verbatim": True}


def _minute(iso: str | None) -> str:
    return (iso or "")[:16].replace("T", " ")


def signature(key: bytes, timestamp: str, body: bytes) -> str:
    """`v1=` + hex HMAC-SHA256 of `{timestamp}.{body}`."""
    digest = hmac.new(key, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def headers(key: str, timestamp: str, body: bytes, secret: bytes | None) -> dict[str, str]:
    found = {
        "Content-Type": "application/json",
        IDEMPOTENCY_HEADER: key,
        TIMESTAMP_HEADER: timestamp,
    }
    if secret:
        found[SIGNATURE_HEADER] = signature(secret, timestamp, body)
    return found
