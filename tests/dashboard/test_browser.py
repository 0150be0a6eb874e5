"""The dashboard in a real headless Chromium, served by a real `tokensentry dashboard`: every
page by its URL (CONTRACT §7), and one incident triaged by clicking its page's form."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from .browser import dashboard, open_expander, open_page, wait_for

PLANTED_ALERT = "plantedbrowser000001"


def test_every_page_by_url_and_triage_by_clicking(store_copy, plant, browser, tmp_path):
    incident = plant(store_copy, alert_id=PLANTED_ALERT, app="Acme Sync", ip="198.51.100.66")
    config = store_copy.parent / "tokensentry.toml"
    shots = tmp_path / "screenshots"
    shots.mkdir()
    pages = {
        "": "Open alerts by severity",
        "queue": "incident(s) match",
        f"incident?id={incident}": "198.51.100.66",
        f"alert?id={PLANTED_ALERT}": "198.51.100.66",
        "apps": "Egress seen for refresh-token use",
        "controls": "Per app and org",
        "tokens": "Refresh tokens",
        "pipeline": "Freshness per org and source",
        "search?q=198.51.100.66": "Newest events",
    }
    with dashboard(store_copy, config, tmp_path) as url:
        for path, expect in pages.items():
            text = open_page(browser, f"{url}/{path}", expect)
            assert "Traceback" not in text
            name = path.split("?")[0] or "overview"
            browser.save_screenshot(str(shots / f"{name}.png"))
            assert (shots / f"{name}.png").stat().st_size > 10_000
        text = open_page(browser, f"{url}/queue", "Most urgent")
        assert (
            "Acme Sync refreshed a token from 198.51.100.66" in text
        )  # the planted one, as page text

        # Its events are one click away: opening them draws the timeline and the full grid.
        open_page(browser, f"{url}/incident?id={incident}", "Audit trail")
        chart = '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg'
        grid = '[data-testid="stDataFrame"] canvas'
        open_expander(browser, "The timeline and every event", drawn=(chart, grid))

        # Triage the planted incident by clicking the form on its page.
        open_page(browser, f"{url}/incident?id={incident}", "Apply to 1 incident")
        name_field = browser.find_element(
            By.CSS_SELECTOR, 'input[aria-label="Your name (for the audit trail)"]'
        )
        name_field.send_keys("Ada Analyst", Keys.TAB)
        wait_for(browser, "Apply to 1 incident")
        status = browser.find_element(
            By.CSS_SELECTOR, 'div[data-testid="stSelectbox"] input[aria-label*="Set status"]'
        )
        status.click()
        wait_for(browser, "false_positive")  # the option list is open
        option = next(
            o for o in browser.find_elements(By.CSS_SELECTOR, '[role="option"]')
            if o.text.strip() == "resolved"
        )  # fmt: skip
        option.click()
        note = browser.find_element(By.CSS_SELECTOR, 'textarea[aria-label="Note"]')
        note.send_keys("rotated the partner's token")
        button = next(
            b for b in browser.find_elements(By.CSS_SELECTOR, "button")
            if b.text.strip() == "Apply to 1 incident"
        )  # fmt: skip
        button.click()
        wait_for(browser, "Set to resolved.")
        browser.save_screenshot(str(shots / "triaged.png"))

        # Reopen: a new session reads the status and the note back from the store.
        text = open_page(browser, f"{url}/incident?id={incident}", "Audit trail")
        assert "status\nresolved" in text, text
        assert "rotated the partner's token" in text
        assert "Ada Analyst" in text
        assert "Set to resolved." not in text
