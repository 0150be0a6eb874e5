"""Drive the real dashboard in Debian's headless Chromium (chromium-driver), never a downloaded
browser: the browser test and the README screenshot generator share it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from dashboard.bench.render import CHROMIUM_FLAGS, free_port  # one browser, one set of flags

FOOTER = "GeoLite2 data created by MaxMind"
# Streamlit's app root while no script runs: its own end-to-end tests wait for this.
IDLE_APP = '[data-testid="stApp"][data-test-script-state="notRunning"]'


class BrowserMissing(RuntimeError):
    pass


@contextmanager
def dashboard(store: Path, config: Path, home: Path) -> Iterator[str]:
    """`tokensentry dashboard` on a free loopback port; yields its URL, stops it after."""
    port = free_port()
    script = Path(sys.executable).with_name("tokensentry")
    process = subprocess.Popen(
        [str(script), "--db", str(store), "--config", str(config), "dashboard",
         "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "HOME": str(home)},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        else:
            process.kill()
            output = process.stdout.read().decode() if process.stdout else ""
            raise RuntimeError("dashboard did not come up: " + output[-2000:])
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


def chromium(profile: Path, width: int = 1400, height: int = 1000) -> webdriver.Chrome:
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if binary is None or driver is None:
        raise BrowserMissing(
            "Debian's chromium and chromium-driver are not installed; `make test` installs them"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


def body_text(driver: webdriver.Chrome) -> str:
    """The page's visible text, one line per block, as Selenium's `element.text` gives it.

    Read through the browser's own `innerText`: Selenium's `.text` runs its visibility atom
    over every node, about 0.4 CPU s a call on an overview page, and the waits below poll it
    five times a second, so the browser spent the tests' waits computing it (9 s against
    0.1 s for 25 calls). innerText also keeps the labels a chart hides when they overlap."""
    text = driver.execute_script("return document.body.innerText")
    lines = (line.replace("\xa0", " ").strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def open_page(driver: webdriver.Chrome, url: str, expect: str, timeout: float = 60) -> str:
    """Load `url` and wait until the page has run to its end (the footer) and shows `expect`
    and the app is no longer running; fail on a Streamlit exception box."""
    driver.get(url)
    return wait_for(driver, expect, timeout)


def wait_for(driver: webdriver.Chrome, expect: str, timeout: float = 60) -> str:
    """Wait until the page shows `expect` and the footer (the script ran to its end), Streamlit
    says its script is not running (the `data-test-script-state` its own end-to-end tests wait
    for), no element is still a loading skeleton, and the text is the same on two looks in a
    row (a session whose widgets register reruns once)."""
    last: list[str] = []

    def ready(d: webdriver.Chrome) -> bool:
        if d.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]'):
            return True
        idle = d.find_elements(By.CSS_SELECTOR, IDLE_APP) and not d.find_elements(
            By.CSS_SELECTOR, '[data-testid="stSkeleton"]'
        )
        text = body_text(d)
        last.append(text if idle else "")
        settled = idle and len(last) >= 2 and last[-1] == last[-2]
        return expect in text and FOOTER in text and settled

    try:
        WebDriverWait(driver, timeout, poll_frequency=0.2).until(ready)
    except TimeoutException:
        page = body_text(driver)[:3000]
        raise AssertionError(f"{expect!r} not shown; page text:\n{page}") from None
    errors = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
    assert not errors, errors[0].text
    return body_text(driver)


def open_expander(
    driver: webdriver.Chrome,
    label: str,
    drawn: tuple[str, ...] = ('[data-testid="stDataFrame"] canvas',),
    timeout: float = 60,
) -> str:
    """Click the collapsed expander labelled `label…` as an analyst would, and wait until what
    it holds (lazy: written by the rerun the click starts) is drawn: each of the CSS selectors
    `drawn` found inside it, the app idle again. Returns the page's text."""
    expander = f"//*[@data-testid='stExpander'][.//summary[contains(., '{label}')]]"
    summary = driver.find_element(By.XPATH, expander + "//summary")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", summary)
    summary.click()

    def ready(d: webdriver.Chrome) -> bool:
        inside = d.find_element(By.XPATH, expander)
        found = all(inside.find_elements(By.CSS_SELECTOR, selector) for selector in drawn)
        return found and bool(d.find_elements(By.CSS_SELECTOR, IDLE_APP))

    try:
        WebDriverWait(driver, timeout, poll_frequency=0.2).until(ready)
    except TimeoutException:
        raise AssertionError(f"{label!r} opened but not all of {drawn} drawn in it") from None
    return wait_for(driver, label, timeout)
