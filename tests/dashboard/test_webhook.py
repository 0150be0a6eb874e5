"""The nightly job's webhook sink against a real HTTP receiver on loopback: each new alert
state posted once through restarts, resent with the same idempotency key until a 2xx, signed
(HMAC-SHA256 a receiver can verify), a Slack message with every log string inert, and its
health in `pipeline_health` (`tokensentry health` exits 1 while it fails)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dashboard.nightly import run_nightly
from dashboard.nightly.webhook_payload import idempotency_key
from ingest import config as config_module
from ingest import db
from ingest.errors import ConfigError

from .digest_helpers import (
    NIGHT_1,
    NIGHT_2,
    PASSWORD,
    SmtpServer,
    config_text,
    insert_alerts,
    night_one_alerts,
    night_two_alerts,
)
from .webhook_receiver import Receiver, Script, verified

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("tokensentry")
HMAC_KEY = "whsec-test-5f0c2a7d"
URL_TOKEN = "T0SECRET/B0SECRET/xoxwebhooktoken"  # a Slack-like URL is a secret too
ENV = {
    **os.environ,
    "TS_TEST_SMTP_PASSWORD": PASSWORD,
    "TS_TEST_WEBHOOK_KEY": HMAC_KEY,
}
HIGH_AND_ABOVE = {"a1reuse000000000001", "a2offallow000000002", "a3client00000000003"}


def webhook_section(url: str, *, kind: str = "json", extra: str = "") -> str:
    secret = 'secret = { env = "TS_TEST_WEBHOOK_KEY" }\n' if kind == "json" else ""
    return (
        f'\n[webhooks.soc]\nurl = "{url}"\nkind = "{kind}"\n{secret}'
        f'min_severity = "high"\nretry_wait_s = 0\n{extra}'
    )


def tokensentry(store: Path, config: Path, *args: str, env: dict[str, str] = ENV):
    return subprocess.run(
        [str(SCRIPT), "--db", str(store), "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def in_process_nightly(store: Path, config: Path, log: list[str]) -> int:
    previous = os.environ.get("TS_TEST_WEBHOOK_KEY")
    os.environ["TS_TEST_WEBHOOK_KEY"] = HMAC_KEY
    os.environ["TS_TEST_SMTP_PASSWORD"] = PASSWORD
    try:
        return run_nightly(
            store, config_module.load(config), now=lambda: datetime.now(UTC).replace(tzinfo=None),
            log=log.append,
        )  # fmt: skip
    finally:
        if previous is None:
            os.environ.pop("TS_TEST_WEBHOOK_KEY", None)


def readme_receiver():
    """The `verify` function of the README's "Alerts to a SIEM / webhook" section."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Alerts to a SIEM / webhook") :]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code, "the README lost its receiver snippet"
    namespace: dict = {}
    exec(code.group(1), namespace)
    return namespace["verify"]


def deliveries(store: Path) -> list[tuple]:
    with db.connect(store, read_only=True) as con:
        return con.execute(
            """SELECT alert_id, severity, status, attempts, http_status, error, idempotency_key
               FROM webhook_deliveries ORDER BY alert_id"""
        ).fetchall()


@pytest.fixture
def store_path(tmp_path) -> Path:
    path = tmp_path / "store.duckdb"
    with db.connect(path) as con:
        insert_alerts(con, night_one_alerts(), detected_at=NIGHT_1)
    return path


def test_each_new_alert_is_posted_once_through_a_restart_signed_and_verifiable(
    tmp_path, store_path
):
    config = tmp_path / "tokensentry.toml"
    with SmtpServer(tmp_path) as smtp, Receiver() as receiver:
        config.write_text(config_text(smtp.port, smtp.ca_path) + webhook_section(receiver.url()))
        first = tokensentry(store_path, config, "nightly")
        second = tokensentry(store_path, config, "nightly")  # a new process: a restart
        after_restart = list(receiver.requests)
        with db.connect(store_path) as con:
            insert_alerts(con, night_two_alerts(), detected_at=NIGHT_2)
        third = tokensentry(store_path, config, "nightly")
        requests = list(receiver.requests)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert third.returncode == 0, third.stderr
    assert "webhook soc: 3 new, 3 delivered, 0 pending" in first.stderr
    assert "webhook soc: 0 new, 0 delivered, 0 pending" in second.stderr
    assert len(after_restart) == 3  # the second run posted nothing
    bodies = [json.loads(r.body) for r in after_restart]
    assert {b["alert"]["alert_id"] for b in bodies} == HIGH_AND_ABOVE  # medium is below the bar
    assert len({r.key for r in after_restart}) == 3
    for request, body in zip(after_restart, bodies, strict=True):
        assert request.path == "/hooks/tokensentry"
        assert request.headers["Content-Type"] == "application/json"
        assert verified(HMAC_KEY.encode(), request), "the receiver cannot verify the signature"
        assert not verified(b"another key", request)
        assert request.key == body["idempotency_key"]
        assert request.key == idempotency_key(body["alert"]["alert_id"], body["alert"]["severity"])
        assert body["type"] == "tokensentry.alert"
        alert_id = body["alert"]["alert_id"]
        assert body["ocsf"]["finding_info"]["uid"] == alert_id  # the id every export uses
        assert body["link"] == f"https://tokensentry.example.org/alert?id={alert_id}"
    # Night two: only the new alert, once.
    assert [json.loads(r.body)["alert"]["alert_id"] for r in requests[3:]] == [
        "b1travel00000000001"
    ]
    rows = deliveries(store_path)
    assert [(r[0], r[2], r[3], r[4]) for r in rows] == [
        ("a1reuse000000000001", "delivered", 1, 200),
        ("a2offallow000000002", "delivered", 1, 200),
        ("a3client00000000003", "delivered", 1, 200),
        ("b1travel00000000001", "delivered", 1, 200),
    ]
    # Neither the HMAC key nor the URL reaches the logs.
    for result in (first, second, third):
        assert HMAC_KEY not in result.stderr and str(receiver.port) not in result.stderr


def test_a_tampered_body_or_a_replayed_old_post_fails_verification(tmp_path, store_path):
    config = tmp_path / "tokensentry.toml"
    with SmtpServer(tmp_path) as smtp, Receiver() as receiver:
        config.write_text(config_text(smtp.port, smtp.ca_path) + webhook_section(receiver.url()))
        assert in_process_nightly(store_path, config, []) == 0
        request = receiver.requests[0]
    assert verified(HMAC_KEY.encode(), request)
    tampered = type(request)(request.path, request.headers, request.body.replace(b"high", b"info"))
    assert not verified(HMAC_KEY.encode(), tampered)
    # The README's snippet, run as written, accepts the real post and refuses the tampered one.
    readme_verify = readme_receiver()
    assert readme_verify(HMAC_KEY.encode(), request.headers, request.body)
    assert not readme_verify(HMAC_KEY.encode(), tampered.headers, tampered.body)
    assert not readme_verify(b"another key", request.headers, request.body)
    stamp = int(request.headers["X-Tokensentry-Timestamp"])
    assert not verified(HMAC_KEY.encode(), request, now=stamp + 301)  # a replay, 5 min later


def test_a_500_then_a_200_is_one_delivery_with_the_same_key_and_body(tmp_path, store_path):
    config = tmp_path / "tokensentry.toml"
    log: list[str] = []
    with SmtpServer(tmp_path) as smtp, Receiver(Script(statuses=[500])) as receiver:
        config.write_text(
            config_text(smtp.port, smtp.ca_path)
            + webhook_section(receiver.url()).replace('"high"', '"critical"')
        )
        code = in_process_nightly(store_path, config, log)
        requests = list(receiver.requests)
    assert code == 0, log
    assert len(requests) == 2
    assert requests[0].key == requests[1].key == idempotency_key("a1reuse000000000001", "critical")
    assert requests[0].body == requests[1].body
    assert all(verified(HMAC_KEY.encode(), r) for r in requests)
    assert any(
        "webhook soc: alert a1reuse000000000001 not acknowledged (attempt 1 of 3): HTTP 500; "
        "again in 0 s" in line
        for line in log
    )
    assert [(r[0], r[2], r[3], r[4], r[5]) for r in deliveries(store_path)] == [
        ("a1reuse000000000001", "delivered", 2, 200, None)
    ]


def test_a_failing_webhook_is_failed_in_health_until_the_next_run_delivers(tmp_path, store_path):
    config = tmp_path / "tokensentry.toml"
    with SmtpServer(tmp_path) as smtp, Receiver(Script(then=503)) as receiver:
        config.write_text(
            config_text(smtp.port, smtp.ca_path)
            + webhook_section(receiver.url(), extra="max_attempts = 2\n")
        )
        failed = tokensentry(store_path, config, "nightly")
        health = tokensentry(store_path, config, "health", "--format", "json")
        tried = list(receiver.requests)
        receiver.script = Script()  # the receiver is back
        again = tokensentry(store_path, config, "nightly")
        healthy = tokensentry(store_path, config, "health", "--format", "json")
        requests = list(receiver.requests)
    assert failed.returncode == 1, failed.stderr
    assert (
        "webhook soc: not acknowledged: HTTP 503; the rest wait for the next run" in failed.stderr
    )
    # The receiver is down: two attempts at the first alert, the others not tried this run.
    assert len(tried) == 2 and tried[0].key == tried[1].key
    assert health.returncode == 1, health.stderr
    rows = [r for r in json.loads(health.stdout) if r["org_id"] == "webhook"]
    assert [(r["source"], r["state"], r["last_status"]) for r in rows] == [
        ("soc", "failed", "failed")
    ]
    assert "HTTP 503" in rows[0]["last_error"]
    # The digest that night names the failing webhook in its pipeline section.
    assert re.search(r"failed: webhook/soc: failed: not acknowledged: HTTP 503", " ".join(
        smtp.messages[0].part("plain").split()))  # fmt: skip
    assert again.returncode == 0, again.stderr
    resent = requests[2:]
    assert resent[0].key == tried[0].key and resent[0].body == tried[0].body  # the same post
    assert len(resent) == 3 and len({r.key for r in resent}) == 3
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert [r["state"] for r in json.loads(healthy.stdout) if r["org_id"] == "webhook"] == ["ok"]
    assert {r[2] for r in deliveries(store_path)} == {"delivered"}


def test_an_unanswered_post_is_resent_with_the_same_key_so_the_receiver_can_drop_it(
    tmp_path, store_path
):
    """The receiver got the post but answered too late: not acknowledged, so the next run
    resends the same bytes under the same key; never a second, different post."""
    config = tmp_path / "tokensentry.toml"
    with SmtpServer(tmp_path) as smtp, Receiver(Script(delay_s=2.0)) as receiver:
        config.write_text(
            config_text(smtp.port, smtp.ca_path)
            + webhook_section(receiver.url(), extra="max_attempts = 1\ntimeout_s = 0.5\n").replace(
                '"high"', '"critical"'
            )
        )
        assert in_process_nightly(store_path, config, log := []) == 1
        receiver.script = Script()
        assert in_process_nightly(store_path, config, log) == 0
        requests = list(receiver.requests)
    assert any("no answer within 0.5 s" in line for line in log)
    assert len(requests) == 2
    assert requests[0].key == requests[1].key and requests[0].body == requests[1].body


def test_slack_message_shape_with_every_log_string_inert(tmp_path, store_path):
    hostile = night_one_alerts()[2]
    with db.connect(store_path) as con:
        con.execute(
            "UPDATE alerts SET summary = ?, app_name = ? WHERE alert_id = ?",
            [
                "<!channel> @here token used; see <https://evil.example.com/x|the fix> & "
                "www.evil.example.org now @channel",
                "Globex <b>Reports</b> <@U024BE7LH>",
                hostile.alert_id,
            ],
        )
    config = tmp_path / "tokensentry.toml"
    env_url = f"/services/{URL_TOKEN}"
    with SmtpServer(tmp_path) as smtp, Receiver() as receiver:
        config.write_text(
            config_text(smtp.port, smtp.ca_path)
            + webhook_section("X", kind="slack").replace(
                'url = "X"', 'url = { env = "TS_TEST_SLACK_URL" }'
            )
        )
        result = tokensentry(
            store_path, config, "nightly", env={**ENV, "TS_TEST_SLACK_URL": receiver.url(env_url)}
        )
        requests = list(receiver.requests)
    assert result.returncode == 0, result.stderr
    assert len(requests) == 3
    assert all(r.path == env_url for r in requests)
    messages = [json.loads(r.body) for r in requests]
    message = next(m for m in messages if "suspicious_client" in m["blocks"][0]["text"]["text"])
    assert set(message) == {"text", "blocks"}
    assert [b["type"] for b in message["blocks"]] == [
        "header", "section", "section", "context", "actions",
    ]  # fmt: skip
    assert message["blocks"][0]["text"] == {"type": "plain_text", "text": "HIGH suspicious_client"}
    texts = [message["text"], message["blocks"][1]["text"]["text"]]
    texts += [field["text"] for field in message["blocks"][2]["fields"]]
    texts += [element["text"] for element in message["blocks"][3]["elements"]]
    mrkdwn_objects = [message["blocks"][1]["text"], *message["blocks"][2]["fields"]]
    assert all(obj["type"] == "mrkdwn" and obj["verbatim"] is True for obj in mrkdwn_objects)
    joined = "\n".join(texts)
    assert "&lt;!channel&gt;" in joined and "&lt;b&gt;Reports&lt;/b&gt;" in joined
    assert "&amp;" in joined
    for forbidden in ("<", ">", "@here", "@channel", "https://", "evil.example.com", "www.evil"):
        assert forbidden not in joined, forbidden
    assert "hxxps[:]//evil[.]example[.]com" in joined
    assert "*Alert id*\n`a3client00000000003`" in joined
    button = message["blocks"][4]["elements"][0]
    assert button["url"] == "https://tokensentry.example.org/alert?id=a3client00000000003"
    # The URL held a secret: it is in no log line and no stored row.
    assert URL_TOKEN not in result.stderr
    with db.connect(store_path, read_only=True) as con:
        stored = con.execute(
            "SELECT string_agg(CAST(body AS VARCHAR), ' ') FROM webhook_deliveries"
        ).fetchone()[0]
        run_text = con.execute(
            "SELECT string_agg(coalesce(error, '') || coalesce(CAST(details AS VARCHAR), ''), ' ') "
            "FROM runs"
        ).fetchone()[0]
    assert URL_TOKEN not in stored and URL_TOKEN not in (run_text or "")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"url": "http://siem.example.com/x", "secret": {"env": "K"}}, "plain http to another host"),
        ({"url": "https://siem.example.com/x"}, "webhooks.soc.secret: a json webhook is signed"),
        ({"url": "https://siem.example.com/x", "kind": "teams"}, 'is not "json" or "slack"'),
        ({"url": "https://siem.example.com/x", "kind": "slack", "min_severity": "urgent"},
         "webhooks.soc.min_severity"),
        ({"url": "https://u:p@siem.example.com/x", "kind": "slack"}, "carries credentials"),
        ({"url": "https://siem.example.com/x", "kind": "slack", "max_attempts": 0},
         "webhooks.soc.max_attempts"),
        ({"kind": "slack"}, "webhooks.soc.url: missing"),
        ({"url": "https://siem.example.com/x", "kind": "slack", "retries": 3},
         "webhooks.soc.retries: unknown key"),
    ],
)  # fmt: skip
def test_configuration_refuses_what_cannot_be_right(body, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        config_module.parse({"webhooks": {"soc": body}}, base_dir=Path("."))


def test_configuration_accepts_loopback_http_and_a_secret_url(tmp_path):
    parsed = config_module.parse(
        {
            "webhooks": {
                "local": {"url": "http://127.0.0.1:8080/x", "secret": {"file": "key.txt"}},
                "slack": {"url": {"env": "SLACK_URL"}, "kind": "slack", "min_severity": "medium"},
            }
        },
        base_dir=tmp_path,
    )
    local, slack = parsed.webhooks["local"], parsed.webhooks["slack"]
    assert local.url == "http://127.0.0.1:8080/x" and local.secret.file == tmp_path / "key.txt"
    assert slack.url is None and slack.url_ref.env == "SLACK_URL" and slack.secret is None
    assert (slack.min_severity, slack.max_attempts, slack.timeout_s) == ("medium", 3, 10.0)
    assert slack.url_ref.describe() == "env SLACK_URL"


def test_the_pipeline_page_shows_a_failing_webhook(monkeypatch, tmp_path, store_path):
    from streamlit.testing.v1 import AppTest

    from dashboard.nightly.webhook import deliver_webhooks

    config = store_path.parent / "tokensentry.toml"
    with Receiver(Script(then=500)) as receiver:
        config.write_text(webhook_section(receiver.url(), extra="max_attempts = 1\n"))
        monkeypatch.setenv("TS_TEST_WEBHOOK_KEY", HMAC_KEY)
        failures = deliver_webhooks(
            store_path, config_module.load(config), now=lambda: datetime.now(UTC).replace(tzinfo=None),
            log=lambda message: None,
        )  # fmt: skip
    assert failures == ["webhook soc: not acknowledged: HTTP 500; the rest wait for the next run"]
    monkeypatch.setenv("TOKENSENTRY_DB", str(store_path))
    monkeypatch.setenv("TOKENSENTRY_CONFIG", str(config))
    app = AppTest.from_file(str(REPO / "dashboard" / "web" / "app.py"), default_timeout=60)
    app.run()
    app.switch_page("app_pages/pipeline.py").run()
    assert not app.exception, [e.message for e in app.exception]
    freshness = app.table[0].value if app.table else None
    frames = [t.value for t in app.table] + [d.value for d in app.dataframe]
    rows = [
        row
        for frame in frames
        if "source" in frame.columns
        for row in frame.to_dict("records")
        if row.get("source") == "soc"
    ]
    assert rows, f"no webhook row on /pipeline: {freshness}"
    assert rows[0]["state"] == "failed" and rows[0]["org"] == "webhook"
    assert "HTTP 500" in rows[0]["last_error"]


def test_a_refused_post_is_not_retried_in_the_run_and_does_not_hold_up_the_others(
    tmp_path, store_path
):
    """A 4xx other than 408/429 will not change on a retry seconds later: the alert stays
    pending for the next run (a fixed receiver), and the alerts after it are still posted."""
    config = tmp_path / "tokensentry.toml"
    log: list[str] = []
    with SmtpServer(tmp_path) as smtp, Receiver(Script(statuses=[400])) as receiver:
        config.write_text(config_text(smtp.port, smtp.ca_path) + webhook_section(receiver.url()))
        assert in_process_nightly(store_path, config, log) == 1
        first = list(receiver.requests)
        assert in_process_nightly(store_path, config, log) == 0
        second = list(receiver.requests)[len(first) :]
    assert len(first) == 3  # the refused one once, then the two others
    refused = first[0]
    assert any(
        "not acknowledged (attempt 1 of 3): HTTP 400" in line and "again in" not in line
        for line in log
    )
    assert any("webhook soc: 1 alert(s) not acknowledged yet" in line for line in log)
    assert [(r.key, r.body) for r in second] == [(refused.key, refused.body)]
    assert {r[2] for r in deliveries(store_path)} == {"delivered"}
