"""The digest's HTML part in a real headless Chromium (Debian's, through chromium-driver): every
alert summary is rendered text, hostile names stay text, and it fits a phone's width."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from dashboard.digest import collect
from dashboard.digest.defang import defang
from dashboard.digest.message import build_message

from .digest_helpers import CONFIG, NIGHT_1, FixedAlert, add_pipeline_trouble, insert_alerts
from .digest_helpers import night_one_alerts as night_one

HOSTILE_APP = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>Evil</b>"
PHONE_WIDTH = 390  # CSS pixels of a common phone in portrait


def chromium(tmp_path) -> webdriver.Chrome:
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if binary is None or driver is None:
        pytest.fail(
            "Debian's chromium and chromium-driver are not installed; `make test` installs them"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    # Headless windows are at least 500 px wide; emulate the phone's viewport instead.
    options.add_experimental_option(
        "mobileEmulation", {"deviceMetrics": {"width": PHONE_WIDTH, "height": 844, "pixelRatio": 3}}
    )
    return webdriver.Chrome(service=Service(driver), options=options)


def test_html_part_renders_every_summary_as_text_on_a_phone(tmp_path, store):
    alerts = [
        *night_one(),
        FixedAlert(
            "a9hostile0000000009", "suspicious_client", "critical", "00D5g000007PqRsEAK",
            HOSTILE_APP, "App <i>Evil</i> used http://phish.example.net/login from a Tor exit.",
            ("185.220.101.7",), NIGHT_1 - timedelta(hours=2),
        ),
    ]  # fmt: skip
    insert_alerts(store, alerts, detected_at=NIGHT_1)
    add_pipeline_trouble(store, NIGHT_1)
    content = collect(store, CONFIG, now=NIGHT_1)
    html = build_message(content, CONFIG, ("secops@example.org",)).get_body(("html",))
    page = tmp_path / "digest.html"
    page.write_text(html.get_content(), encoding="utf-8")
    driver = chromium(tmp_path)
    try:
        driver.get(page.as_uri())
        driver.save_screenshot(str(tmp_path / "digest.png"))
        body = driver.find_element(By.TAG_NAME, "body").text
        flat = " ".join(body.split())
        for alert in alerts:
            assert " ".join(defang(alert.summary).split()) in flat, alert.alert_id
        assert f"app {defang(HOSTILE_APP)}" in flat  # the markup is shown, as text
        assert "App <i>Evil</i> used hxxp[:]//phish[.]example[.]net/login" in flat
        assert driver.title != "pwned"
        assert driver.find_elements(By.TAG_NAME, "img") == []
        assert driver.find_elements(By.TAG_NAME, "script") == []
        assert driver.find_elements(By.TAG_NAME, "i") == []
        links = [a.get_attribute("href") for a in driver.find_elements(By.TAG_NAME, "a")]
        assert links and all(h.startswith("https://tokensentry.example.org/") for h in links)
        assert "https://tokensentry.example.org/alert?id=a9hostile0000000009" in links
        assert "Pipeline health" in body and "Quarantined rows since the last digest: 2" in body
        viewport, width = driver.execute_script(
            "return [window.innerWidth, document.documentElement.scrollWidth]"
        )
        assert viewport == PHONE_WIDTH
        assert width <= PHONE_WIDTH, f"the digest scrolls sideways on a phone ({width}px)"
    finally:
        driver.quit()
