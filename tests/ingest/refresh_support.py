"""Shared by the refresh helper's tests: the fake org and app, the helper's set-up, the workers
that multiprocessing spawns, and judging a partner log with `tokensentry import` + `detect`."""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests

from ingest.refresh_helper import (
    ExchangeLog,
    FileRefreshLock,
    FileTokenStore,
    OAuthClient,
    RefreshHelper,
    TokenKey,
)
from sandbox.fakesf.model import FakeApp, FakeOrg

ORG_ID, USER_ID, USERNAME = "00D5g000004XyZa", "0055g00000AbCdE", "sync@acme.example"
APP = "Acme Sync"
CONSUMER_KEY, CONSUMER_SECRET = "3MVG9refreshHelperTestKey", "F00DFACEC0FFEE5EC12E7"
CALLBACK = "https://partner.example/salesforce/callback"
EGRESS = "203.0.113.5"
FP_KEY = "partner-wide-fingerprint-key-0001"
KEY = TokenKey(ORG_ID, USER_ID, APP)
CONFIG = f"""
[apps."{APP}"]
allowlist = ["203.0.113.0/28"]
"""


def fake_org() -> FakeOrg:
    app = FakeApp(APP, CONSUMER_KEY, "0Hx5g000000TEST", consumer_secret=CONSUMER_SECRET,
                  callback_urls=(CALLBACK,))  # fmt: skip
    return FakeOrg(ORG_ID, "acme", {USERNAME: USER_ID}, [app])


def client(url: str, ca_path: str, **changes: Any) -> OAuthClient:
    fields: dict[str, Any] = {
        "login_url": url, "client_id": CONSUMER_KEY, "app": APP,
        "client_secret": CONSUMER_SECRET, "redirect_uri": CALLBACK, "verify": ca_path,
    }  # fmt: skip
    return OAuthClient(**{**fields, **changes})


def helper(
    url: str, ca_path: str, folder: Path, sink: Any, worker: str | None = None,
    egress: str | None = EGRESS, **options: Any,
) -> RefreshHelper:  # fmt: skip
    log = ExchangeLog(sink, egress_ip=egress, worker=worker)
    flow = options.pop("flow", "refresh_token")
    return RefreshHelper(
        client(url, ca_path, flow=flow), FileTokenStore(folder), FileRefreshLock(folder), log,
        **options,
    )  # fmt: skip


def authorize(h: RefreshHelper, ca_path: str) -> None:
    """The web server flow with PKCE, the browser's part played by requests."""
    started = h.begin_authorization(state="st-1", login_hint=USERNAME)
    answer = requests.get(started.url, allow_redirects=False, verify=ca_path, timeout=10)
    assert answer.status_code == 302, answer.text
    query = parse_qs(urlparse(answer.headers["Location"]).query)
    h.complete_authorization(started, query["code"][0], query["state"][0], KEY)


def read_log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- spawned workers (module level: multiprocessing's spawn imports them by name) ---------------


def hammer(
    url: str, ca_path: str, folder: str, log_path: str, number: int, threads: int,
    seconds: float, max_age: float,
) -> None:  # fmt: skip
    """`threads` threads asking for a token (and using it) for `seconds`; writes a summary."""
    h = helper(url, ca_path, Path(folder), log_path, worker=f"proc-{number}",
               max_access_age_s=max_age, backoff_s=0.05)  # fmt: skip
    deadline = time.monotonic() + seconds
    calls, api_calls, errors = [0], [0], []
    guard = threading.Lock()

    def run() -> None:
        rng = random.Random()
        while time.monotonic() < deadline:
            try:
                h.access_token(KEY)
                with guard:
                    calls[0] += 1
                if rng.random() < 0.05:
                    response = h.request(KEY, "GET", "/services/data/v62.0/limits", timeout=30)
                    if response.status_code != 200:
                        raise RuntimeError(f"limits answered {response.status_code}")
                    with guard:
                        api_calls[0] += 1
            except Exception as exc:
                with guard:
                    errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(rng.uniform(0.05, 0.25))

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    summary = {"calls": calls[0], "api_calls": api_calls[0], "errors": errors[:20]}
    Path(folder, f"summary-{number}.json").write_text(json.dumps(summary))


def refresh_once(url: str, ca_path: str, folder: str, log_path: str, die_after_store: bool) -> None:
    """Refresh once; with `die_after_store`, SIGKILL itself the moment the success line is
    written: after the store was saved, before the lock is released."""

    def sink(line: dict[str, Any]) -> None:
        with open(log_path, "a") as handle:
            handle.write(json.dumps(line) + "\n")
        if die_after_store and line["outcome"] == "success":
            os.kill(os.getpid(), signal.SIGKILL)

    h = helper(url, ca_path, Path(folder), sink, worker="doomed", max_access_age_s=0.0,
               timeout_s=(10.0, 120.0))  # fmt: skip
    h.access_token(KEY)


# -- judging a log as tokensentry does ------------------------------------------------------------


def judge(
    log_path: Path, folder: Path, import_exit: int = 0
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`tokensentry import` the log, `detect`, and return the import report and the alerts.
    `import_exit` is the exit status the import must end with (a quarantine makes it 1)."""
    from click.testing import CliRunner

    from dashboard.cli import cli

    config = folder / "tokensentry.toml"
    config.write_text(CONFIG)
    env = {"TOKENSENTRY_DB": str(folder / "t.duckdb"), "TOKENSENTRY_CONFIG": str(config)}
    runner = CliRunner()
    imported = runner.invoke(cli, ["import", "--format", "json", str(log_path)], env=env)
    assert imported.exit_code == import_exit, imported.output
    detected = runner.invoke(cli, ["detect", "--all"], env=env)
    assert detected.exit_code == 0, detected.output
    alerts = runner.invoke(cli, ["alerts", "--format", "json"], env=env)
    assert alerts.exit_code == 0, alerts.output
    return json.loads(imported.stdout), json.loads(alerts.stdout)
