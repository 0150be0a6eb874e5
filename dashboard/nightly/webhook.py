"""The nightly job's webhook stage: post each new alert state to every `[webhooks.NAME]`.

- Queue, then post: every new alert state is written to `webhook_deliveries` with its exact
  body before the first attempt (webhook_state.py), so a crash between the post and the answer
  leads to a resend of the same bytes with the same `Idempotency-Key`, never to a second,
  different post; a delivered state is never posted again, whatever the restarts.
- Delivered means a 2xx answer. Anything else (a 3xx: redirects are not followed, a 4xx, a 5xx,
  no connection, a timeout) leaves the state pending. Within one run a state is tried up to
  `max_attempts` times with exponential backoff (`retry_wait_s`, doubled each time) while the
  answer may change (no answer, 408, 429, 5xx); a refusal (another 4xx) moves on to the next
  state. When a state is still unacknowledged after its attempts, the stage stops: the
  receiver is down, and the rest wait for the next run, which resends the pending ones first.
- Each webhook's run is a `runs` row (stage `webhook`, unit `webhook/NAME`): `ok` when nothing
  is left pending, `failed` otherwise, so `pipeline_health` (`/pipeline`, `tokensentry health`,
  the digest) shows a failing or silent webhook and `health` exits 1.
- The URL and the HMAC key are secrets (`{ env }` / `{ file }`): resolved here, never logged or
  stored; logs and the store name the webhook.
"""

from __future__ import annotations

import http.client
import ssl
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ingest import db, runs
from ingest.config import Config, WebhookConfig
from ingest.config.webhooks import check_url
from ingest.errors import ConfigError, TokensentryError
from ingest.runs import new_run_id

from . import webhook_payload as payload
from . import webhook_state as state

Log = Callable[[str], None]
STAGE = "webhook"
RETRYABLE = (408, 425, 429, 500, 502, 503, 504)
MAX_RESPONSE = 64 * 1024  # read (and drop) at most this much of an answer


@dataclass(frozen=True)
class Answer:
    status: int | None  # the HTTP status code, when the receiver answered
    error: str | None  # None: acknowledged (2xx)

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in RETRYABLE


@dataclass
class HookOutcome:
    name: str
    queued: int = 0
    delivered: int = 0
    pending: int = 0
    error: str | None = None


def unit_id(name: str) -> str:
    return f"{STAGE}/{name}"


def deliver_webhooks(
    db_path: Path,
    config: Config,
    *,
    now: Callable[[], datetime],
    log: Log,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Post to every configured webhook; the failures, one text per webhook (empty: all ok)."""
    failures = []
    for hook in config.webhooks.values():
        outcome = deliver(db_path, config, hook, now=now, log=log, sleep=sleep)
        if outcome.error:
            failures.append(f"webhook {hook.name}: {outcome.error}")
    return failures


def deliver(
    db_path: Path,
    config: Config,
    hook: WebhookConfig,
    *,
    now: Callable[[], datetime],
    log: Log,
    sleep: Callable[[float], None] = time.sleep,
) -> HookOutcome:
    outcome = HookOutcome(hook.name)
    run_id = new_run_id(now())
    say = lambda message: log(f"webhook {hook.name}: {message}")  # noqa: E731
    try:
        with db.connect(db_path) as con:
            runs.start(con, run_id=run_id, stage=STAGE, unit_id=unit_id(hook.name), now=now())
            try:
                _deliver(con, config, hook, outcome, now=now, say=say, sleep=sleep)
            except (ConfigError, OSError) as exc:  # a secret not set, a CA file unreadable
                outcome.error = f"not sent: {exc}"
            except Exception as exc:  # recorded in runs and logged; the nightly job goes on
                outcome.error = "failed: " + "".join(traceback.format_exception_only(exc)).strip()
            outcome.pending = len(state.pending(con, hook.name))
            if outcome.pending and not outcome.error:
                outcome.error = f"{outcome.pending} alert(s) not acknowledged yet"
            runs.finish(
                con,
                run_id=run_id,
                stage=STAGE,
                unit_id=unit_id(hook.name),
                status="failed" if outcome.error else "ok",
                now=now(),
                rows_read=outcome.queued,
                rows_new=outcome.delivered,
                error=outcome.error,
                details={"queued": outcome.queued, "delivered": outcome.delivered,
                         "pending": outcome.pending},
            )  # fmt: skip
    except TokensentryError as exc:  # the store could not be opened
        outcome.error = f"failed: {exc}"
    say(
        f"{outcome.queued} new, {outcome.delivered} delivered, {outcome.pending} pending"
        + (f"; {outcome.error}" if outcome.error else "")
    )
    return outcome


def _deliver(
    con: Any,
    config: Config,
    hook: WebhookConfig,
    outcome: HookOutcome,
    *,
    now: Callable[[], datetime],
    say: Log,
    sleep: Callable[[float], None],
) -> None:
    url = _url(hook)
    secret = _secret(hook)
    link = config.digest.dashboard_url

    def body_of(record: dict[str, Any], key: str) -> bytes:
        if hook.kind == "slack":
            return payload.slack_body(record, link, config.org_alias(record.get("org_id") or ""))
        return payload.json_body(record, key, link)

    outcome.queued = state.queue_new(con, hook.name, hook.kind, hook.min_severity, now(), body_of)
    opener = _opener(hook)
    for item in state.pending(con, hook.name):
        answer = Answer(None, "not tried")
        for attempt in range(hook.max_attempts):
            answer = _post(opener, url, item, secret, hook.timeout_s)
            state.record_attempt(
                con, hook.name, item.key, now(), http_status=answer.status, error=answer.error
            )
            if answer.error is None:
                outcome.delivered += 1
                break
            more = attempt + 1 < hook.max_attempts and answer.retryable
            wait = hook.retry_wait_s * 2**attempt
            say(
                f"alert {item.alert_id} not acknowledged (attempt {attempt + 1} of "
                f"{hook.max_attempts}): {answer.error}" + (f"; again in {wait:g} s" if more else "")
            )
            if not more:
                break
            sleep(wait)
        if answer.error is not None and answer.retryable:
            outcome.error = f"not acknowledged: {answer.error}; the rest wait for the next run"
            return


def _url(hook: WebhookConfig) -> str:
    if hook.url is not None:
        return hook.url
    assert hook.url_ref is not None
    return check_url(f"webhooks.{hook.name}.url", hook.url_ref.resolve().strip(), show=False)


def _secret(hook: WebhookConfig) -> bytes | None:
    if hook.secret is None:
        return None
    key = hook.secret.resolve().strip()
    if not key:
        raise ConfigError(f"the key for webhooks.{hook.name}.secret is empty")
    return key.encode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is not an acknowledgement: the 3xx is the answer (and a signed body is never
    re-sent to wherever a Location header points)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _opener(hook: WebhookConfig) -> urllib.request.OpenerDirector:
    context = ssl.create_default_context()
    if hook.ca_bundle is not None:
        context.load_verify_locations(cafile=str(hook.ca_bundle))
    return urllib.request.build_opener(_NoRedirect(), urllib.request.HTTPSHandler(context=context))


def _post(
    opener: urllib.request.OpenerDirector,
    url: str,
    item: state.Pending,
    secret: bytes | None,
    timeout: float,
) -> Answer:
    """One POST of the stored body, signed now. The error text never holds the URL."""
    stamp = str(int(time.time()))
    request = urllib.request.Request(
        url,
        data=item.body,
        headers={
            **payload.headers(item.key, stamp, item.body, secret),
            "User-Agent": "tokensentry-webhook/1",
        },
        method="POST",
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read(MAX_RESPONSE)
            return Answer(response.status, None)
    except urllib.error.HTTPError as exc:
        exc.close()
        return Answer(exc.code, f"HTTP {exc.code}")
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return Answer(None, f"no answer within {timeout:g} s")
        return Answer(None, f"cannot connect: {_reason(reason)}")
    except TimeoutError:
        return Answer(None, f"no answer within {timeout:g} s")
    except (OSError, http.client.HTTPException) as exc:
        return Answer(None, f"connection failed: {_reason(exc)}")


def _reason(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return type(reason).__name__ if isinstance(reason, BaseException) else str(reason)
