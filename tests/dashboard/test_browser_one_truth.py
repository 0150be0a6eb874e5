"""One truth, seen in a real browser (issue 14): the facts an analyst reads on `/`, `/queue`,
`/pipeline`, `/controls`, `/tokens` and an incident's page in headless Chromium are the ones
`tokensentry alerts | health | controls` print and the digest says. On the demo store and on
the fresh two-org store of test_one_truth (a different world), one browser session each.

Pages are read as text (st.table cells, metrics, captions), never through the queries, so a
page that rendered another number than the CLI fails here.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from dashboard.digest.content import collect
from dashboard.digest.render import RenderOptions, render_text
from dashboard.queries import CONTROLS
from dashboard.web.detail import SHORT_LIST
from ingest import config as config_module
from ingest import db
from ingest.timeparse import now_utc

from .browser import body_text, dashboard, open_page, wait_for
from .test_one_truth import _cli, fresh_store  # noqa: F401  (the second world, a fixture)

OPEN = ("new", "acknowledged")
NAME_FIELD = 'input[aria-label="Your name (for the audit trail)"]'
SEVERITIES = ("critical", "high", "medium", "low", "info")
TABLES_JS = """
return [...document.querySelectorAll('[data-testid="stTable"] table')].map(t => ({
  headers: [...t.querySelectorAll('thead th')].map(h => h.innerText.trim()),
  rows: [...t.querySelectorAll('tbody tr')].map(r =>
          [...r.querySelectorAll('td')].map(c => c.innerText.trim())),
}));
"""


def _tables(driver: webdriver.Chrome, *needed: str) -> list[dict[str, str]]:
    """The rows (header -> cell text) of the first static table holding every `needed` header."""
    tables = driver.execute_script(TABLES_JS)
    for table in tables:
        headers = [h for h in table["headers"] if h]  # the first <th> heads the index column
        if set(needed) <= set(headers):
            return [dict(zip(headers, row[-len(headers) :], strict=True)) for row in table["rows"]]
    found = [t["headers"] for t in tables]
    raise AssertionError(f"no table with columns {needed}; tables: {found}")


def _alias(org_cell: str) -> str:
    return org_cell.split(" (")[0]


def _metric(text: str, label: str) -> int:
    found = re.search(rf"^{re.escape(label)}\n([\d,]+)$", text, re.MULTILINE)
    assert found, f"metric {label!r} not on the page"
    return int(found.group(1).replace(",", ""))


def _cli_json(store: Path, *args: str) -> list[dict]:
    code, out = _cli(store, *args, "--format", "json")
    assert code in (0, 1), out  # `health` exits 1 when a source failed or is stale
    return json.loads(out)


@pytest.fixture(params=["demo_db", "fresh_store"])
def world(request) -> Path:
    return request.getfixturevalue(request.param)


def test_pages_cli_and_digest_agree_in_chromium(world, browser, tmp_path):
    store, config_path = world, world.parent / "tokensentry.toml"
    config = config_module.load(config_path)
    labels = {org.org_id: alias for alias, org in config.orgs.items() if org.org_id}
    alerts = _cli_json(store, "alerts")
    incidents = _cli_json(store, "alerts", "--incidents")
    health = _cli_json(store, "health")
    controls = _cli_json(store, "controls")
    with db.connect(store, read_only=True) as con:
        digest = render_text(
            collect(con, config, now=now_utc()),
            RenderOptions("http://dashboard.test", 1000, labels),
        )
        first_day = con.execute("SELECT min(first_seen_at)::DATE FROM alerts").fetchone()[0]
    # The sidebar's window wide enough for every alert, so the pages count what the CLI lists.
    window = f"from={first_day - timedelta(days=1)}&to={(now_utc() + timedelta(days=2)).date()}"
    assert alerts and incidents and health and controls

    with dashboard(store, config_path, tmp_path) as url:
        # --- open alerts by severity: overview metrics == `tokensentry alerts` --------------
        overview = open_page(browser, f"{url}/?{window}", "Open alerts by severity")
        by_severity = Counter(a["severity"] for a in alerts if a["status"] in OPEN)
        for severity in SEVERITIES:
            assert _metric(overview, f"open {severity}") == by_severity[severity], severity
        assert _metric(overview, "open alerts") == sum(by_severity.values())

        # --- open incidents: the queue's count and its most urgent == `alerts --incidents` ---
        queue = open_page(browser, f"{url}/queue?{window}", "Most urgent")
        open_incidents = [i for i in incidents if i["status"] in OPEN]
        assert f"{len(open_incidents):,} incident(s) match" in queue
        most_severe = max(open_incidents, key=lambda i: SEVERITIES[::-1].index(i["severity"]))
        assert f"{most_severe['severity']} · " in queue

        # --- sources: overview, /pipeline, `tokensentry health`, the digest ------------------
        states = {(r["org"], r["source"]): r["state"] for r in health}
        pipeline_page = open_page(browser, f"{url}/pipeline?{window}", "Quarantine")
        shown = _tables(browser, "state", "org", "source", "cadence")
        assert {(_alias(r["org"]), r["source"]): r["state"] for r in shown} == states
        troubled = sorted(key for key, state in states.items() if state in ("failed", "stale"))
        for org, source in troubled:
            assert f"{states[(org, source)]}: {org}/{source}" in digest
        listed = re.findall(r"^(?:failed|stale): ([^/\s]+/\w+)", digest, re.MULTILINE)
        assert sorted(listed) == sorted(f"{org}/{source}" for org, source in troubled)
        overview_rows = _tables_from(browser, f"{url}/?{window}", "cadence")
        assert {(_alias(r["org"]), r["source"]): r["state"] for r in overview_rows} == states
        if troubled:
            assert f"{len(troubled)} org/source pair(s) failed or overdue" in body_text(browser)
        assert "Traceback" not in pipeline_page

        # --- controls verdict per app and org: /controls == `tokensentry controls` ----------
        open_page(browser, f"{url}/controls?{window}", "Per app and org")
        shown = _tables(browser, "app", "org", "control_name", "verdict")
        assert {(r["app"], _alias(r["org"]), r["control_name"]): r["verdict"] for r in shown} == {
            (r["app"], labels.get(r["org_id"], r["org_id"]), CONTROLS[r["control"]]): r["verdict"]
            for r in controls
            if r["org_id"]
        }

        # --- expired tokens: /tokens metric and rows == the idle_token alerts ---------------
        tokens_page = open_page(browser, f"{url}/tokens?{window}", "Dormant tokens used again")
        expired_alerts = {
            (labels.get(a["org_id"], a["org_id"]), a["user_id"])
            for a in alerts
            if a["detector"] == "idle_token" and (a["evidence"] or {}).get("state") == "expired"
        }
        assert _metric(tokens_page, "expired") == len(expired_alerts)
        if expired_alerts:
            due = _tables(browser, "state", "idle", "org", "user_id")
            assert {(_alias(r["org"]), r["user_id"]) for r in due if r["state"] == "expired"} == (
                expired_alerts
            )

        # --- the most severe incident: its page, the CLI, the digest -------------------------
        incident = most_severe
        page = open_page(browser, f"{url}/incident?id={incident['incident_id']}", "Audit trail")
        assert _metric_text(page, "severity") == incident["severity"]
        assert _metric(page, "alerts") == incident["alert_count"]
        held = _tables(browser, "severity", "detector", "alert_id")
        severity_of = {a["alert_id"]: a["severity"] for a in alerts}
        # The page lists SHORT_LIST alerts in full, the rest in a collapsed grid.
        assert len(held) == min(incident["alert_count"], SHORT_LIST)
        assert {r["alert_id"]: r["severity"] for r in held} == {
            r["alert_id"]: severity_of[r["alert_id"]] for r in held
        }
        assert (
            max((r["severity"] for r in held), key=SEVERITIES[::-1].index) == (incident["severity"])
        )
        mailed = dict(
            (alert_id, severity)
            for severity, alert_id in re.findall(
                r"\[(critical|high|medium|low|info)\] \w+[:,].*?alert\?id=(\w+)", digest, re.S
            )
        )
        assert mailed, "the digest names alerts"
        assert all(severity_of[alert_id] == severity for alert_id, severity in mailed.items())

        # --- the analyst's name survives a reload: it is kept in the address (?analyst=) ----
        browser.find_element(By.CSS_SELECTOR, NAME_FIELD).send_keys("Ada Analyst", Keys.TAB)
        WebDriverWait(browser, 30).until(lambda d: "analyst=Ada+Analyst" in d.current_url)
        browser.refresh()
        wait_for(browser, "Audit trail")
        assert browser.find_element(By.CSS_SELECTOR, NAME_FIELD).get_attribute("value") == (
            "Ada Analyst"
        )


def _tables_from(driver: webdriver.Chrome, url: str, *needed: str) -> list[dict[str, str]]:
    open_page(driver, url, "Data freshness")
    return _tables(driver, "state", "org", "source", *needed)


def _metric_text(text: str, label: str) -> str:
    found = re.search(rf"^{re.escape(label)}\n(\S+)$", text, re.MULTILINE)
    assert found, f"metric {label!r} not on the page"
    return found.group(1)
