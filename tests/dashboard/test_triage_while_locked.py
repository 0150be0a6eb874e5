"""An analyst clicks Apply in the real page (Chromium, `tokensentry dashboard`) while another
process holds the DuckDB file read-write: the page confirms the decision as queued, and once
the lock is released the decision is in `audit_log` with the analyst's name and the time of
the click, not of its landing."""

from __future__ import annotations

import time
from datetime import datetime

from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from dashboard.web import writes
from ingest import db

from .browser import body_text, dashboard, open_page, wait_for
from .writer import hold_write_lock

PLANTED_ALERT = "plantedlocked0000001"
HOLD_S = 25


def shows(driver, text: str, timeout: float) -> str:
    """Wait for `text` without waiting for the page to finish: while the store is held, the
    page says so and reruns, so it never reaches its footer."""
    try:
        WebDriverWait(driver, timeout, poll_frequency=0.3).until(lambda d: text in body_text(d))
    except TimeoutException:
        raise AssertionError(f"{text!r} not shown:\n{body_text(driver)[:3000]}") from None
    return body_text(driver)


def test_apply_while_another_process_holds_the_store_is_queued_then_recorded(
    store_copy, plant, browser, tmp_path
):
    incident = plant(store_copy, alert_id=PLANTED_ALERT, app="Acme Sync", ip="198.51.100.67")
    config = store_copy.parent / "tokensentry.toml"
    with dashboard(store_copy, config, tmp_path) as url:
        open_page(browser, f"{url}/incident?id={incident}", "Apply to 1 incident")
        name = browser.find_element(
            By.CSS_SELECTOR, 'input[aria-label="Your name (for the audit trail)"]'
        )
        name.send_keys("Locked Lee", Keys.TAB)
        wait_for(browser, "Apply to 1 incident")
        note = browser.find_element(By.CSS_SELECTOR, 'textarea[aria-label="Note"]')
        note.send_keys("decided while the pipeline wrote")
        with hold_write_lock(store_copy, seconds=HOLD_S):
            clicked = datetime.now()
            button = next(
                b for b in browser.find_elements(By.CSS_SELECTOR, "button")
                if b.text.strip() == "Apply to 1 incident"
            )  # fmt: skip
            button.click()
            text = shows(browser, "Queued: the pipeline is writing to the store", 20)
            assert "Traceback" not in text
            assert writes.pending(store_copy) == 1  # on disk, not in the session
            released_after = datetime.now()
        # Released: the dashboard's flusher (or the page's next run) records it.
        deadline = time.monotonic() + 60
        while writes.pending(store_copy) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert writes.pending(store_copy) == 0
        with db.connect(store_copy, read_only=True) as con:
            trail = con.execute(
                "SELECT target_kind, target_id, to_status, note, changed_at, via FROM audit_log "
                "WHERE analyst = 'Locked Lee' ORDER BY target_kind"
            ).fetchall()
        assert [row[:4] for row in trail] == [
            ("alert", PLANTED_ALERT, "acknowledged", "decided while the pipeline wrote"),
            ("incident", incident, "acknowledged", "decided while the pipeline wrote"),
        ]
        for row in trail:
            assert row[5] == "dashboard"
            # The time of the click (UTC), not of the landing after the lock was released.
            assert abs((row[4] - datetime.utcnow()).total_seconds()) < 300
            assert row[4] < datetime.utcnow() - (datetime.now() - released_after)
        assert clicked  # the page then shows the recorded status
        text = open_page(browser, f"{url}/incident?id={incident}", "Audit trail")
        assert "Locked Lee" in text
