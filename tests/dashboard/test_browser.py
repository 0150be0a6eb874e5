"""The dashboard in a real headless Chromium, served by a real `tokensentry dashboard`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(demo_db, tmp_path):
    port = free_port()
    script = Path(sys.executable).with_name("tokensentry")
    process = subprocess.Popen(
        [str(script), "--db", str(demo_db), "dashboard", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    url = f"http://127.0.0.1:{port}"
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
        pytest.fail("dashboard did not come up: " + process.stdout.read().decode()[-2000:])
    yield url
    process.terminate()
    process.wait(timeout=15)


def browser(tmp_path: Path) -> webdriver.Chrome:
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if binary is None or driver is None:
        pytest.fail(
            "Debian's chromium and chromium-driver are not installed; `make test` installs them"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        *CHROMIUM_FLAGS,
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


def test_alerts_render_in_chromium(server, tmp_path):
    driver = browser(tmp_path)
    try:
        driver.get(server)
        WebDriverWait(driver, 60).until(
            lambda d: "208.68.36.90" in d.find_element(By.TAG_NAME, "body").text
        )
        text = driver.find_element(By.TAG_NAME, "body").text
        assert "tokensentry alerts" in text
        for ip in ("208.68.36.90", "185.220.101.33", "13.228.10.5"):
            assert ip in text
        screenshot = Path(os.environ.get("TOKENSENTRY_SCREENSHOT", tmp_path / "alerts.png"))
        driver.save_screenshot(str(screenshot))
        assert screenshot.stat().st_size > 10_000
    finally:
        driver.quit()
