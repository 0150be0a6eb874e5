"""Every dashboard page rendered in headless Chromium: seconds until it is fully on screen.

`tokensentry dashboard` (Streamlit, opening the store read-only per query as it always does)
runs on a free loopback port; Debian's chromium, driven by selenium (a test dependency), loads
each page once cold (its queries not yet in the app's cache) and then `warm_runs` times warm.
A load is timed from the navigation until the page is fully rendered, the criterion the
browser tests use: the footer (the last thing every page writes) is on the page, Streamlit's
"running" status widget is gone, every chart and data grid in the window (1440 × 1000) has
drawn, and that still holds a moment later (a rerun would take it away again). A page that shows an
exception, lacks its own heading text, or does not finish within the timeout is reported with
the reason instead of a time. Without selenium or chromium the figures say so and the query
timings still stand.

Next to each wall-clock time, the CPU seconds the load cost the dashboard's process and the
browser's (Linux /proc): on a busy machine the wall clock measures the neighbours as much as
the page, the CPU time measures the page.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detect.owners import ATTRIBUTION as LAST_LINE

from ..web import serve

TARGET_S = 2.0
WARM_RUNS = 3
COLD_TIMEOUT_S = 180.0  # a cold page on 10 M events may take long; a broken one must not hang
WARM_TIMEOUT_S = 60.0
SETTLE_S = 0.3  # the rendered state must hold this long (Streamlit may rerun once)
POLL_S = 0.03
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
# "" when fully rendered, "failed: …" when the page failed, else what it is still waiting for.
# Only charts and grids in the window count: Streamlit draws a data grid when it is scrolled to
# (or its expander opened), so one further down the page has no canvas until then.
RENDERED_JS = """
const failed = document.querySelector('[data-testid="stException"]');
if (failed) return 'failed: ' + failed.innerText.slice(0, 500);
const text = document.body.innerText;
if (!text.includes(arguments[0])) return 'the footer';
if (document.querySelector('[data-testid="stStatusWidget"]')) return 'the app to finish running';
if (document.querySelector('[data-testid="stSkeleton"]')) return 'a placeholder to fill';
const shown = (el) => {
  const box = el.getBoundingClientRect();
  return el.getClientRects().length > 0 && box.top < window.innerHeight && box.bottom > 0;
};
for (const chart of document.querySelectorAll('[data-testid="stVegaLiteChart"]'))
  if (shown(chart) && !chart.querySelector('canvas, svg')) return 'a chart to draw';
for (const grid of document.querySelectorAll('[data-testid="stDataFrame"]'))
  if (shown(grid) && !grid.querySelector('canvas')) return 'a data grid to draw';
if (!text.includes(arguments[1])) return 'failed: rendered without ' + JSON.stringify(arguments[1]);
return '';
"""


@dataclass(frozen=True)
class Page:
    name: str
    path: str  # after the dashboard's URL, e.g. "incident?id=…"
    expect: str  # text the page shows when it rendered what it was asked for


def browser_missing() -> str | None:
    """Why pages cannot be rendered here, or None when selenium and chromium are present."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (it comes with the test extra: pip install -e '.[test]')"
    for program, package in (("chromium", "chromium"), ("chromedriver", "chromium-driver")):
        if shutil.which(program) is None:
            return f"{program} is not on PATH (Debian: apt-get install {package})"
    return None


def bench_pages(incident_id: str, biggest_id: str, alert_id: str, ip: str) -> list[Page]:
    """Every page in the menu, the incident at the top of the queue and the biggest one, an
    alert, and a search for an attacker's address."""
    pages = [
        Page("overview", "", "Open alerts by severity"),
        Page("queue", "queue", "Most urgent"),
        Page("search", "search?q=" + urllib.parse.quote(ip), "Events per org"),
        Page("apps", "apps", "Known egress"),
        Page("controls", "controls", "Per app and org"),
        Page("tokens", "tokens", "Dormant tokens used again"),
        Page("pipeline", "pipeline", "Quarantine"),
        Page("incident (top of queue)", f"incident?id={incident_id}", "Audit trail"),
        Page("alert", f"alert?id={alert_id}", "Audit trail"),
    ]
    if biggest_id != incident_id:
        pages.insert(-1, Page("incident (most alerts)", f"incident?id={biggest_id}", "Audit trail"))
    return pages


def _ticks(pid: int) -> tuple[int, int, int]:
    """(parent pid, own CPU ticks, reaped children's ticks) of a process; zeros when gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0, 0, 0
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def cpu_seconds(roots: list[int]) -> float | None:
    """CPU seconds used so far by the processes `roots` and all their descendants (None where
    there is no /proc)."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return None
    parents = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            parents[int(entry.name)] = _ticks(int(entry.name))
    total, pending, seen = 0, list(roots), set()
    while pending:
        pid = pending.pop()
        if pid in seen or pid not in parents:
            continue
        seen.add(pid)
        total += parents[pid][1] + parents[pid][2]
        pending.extend(child for child, (parent, _, _) in parents.items() if parent == pid)
    return total / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("the dashboard did not come up: " + log.read_text(errors="replace")[-1500:])


def _chromium(profile: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1440,1000"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def _load(
    driver: Any,
    url: str,
    expect: str,
    timeout: float,
    last: str = LAST_LINE,
    processes: list[int] | None = None,
) -> tuple[float, float | None]:
    """Seconds from navigating to `url` until the page is fully rendered (and stays so): until
    `last` (the footer, unless the page stops before it) and `expect` show; and the CPU
    seconds `processes` (and their children) used meanwhile."""
    cpu = cpu_seconds(processes or [])
    started = time.monotonic()
    driver.get(url)
    rendered_at: float | None = None
    cpu_at: float | None = None
    while True:
        now = time.monotonic()
        waiting = driver.execute_script(RENDERED_JS, last, expect)
        if waiting.startswith("failed: "):
            raise RuntimeError(waiting.removeprefix("failed: "))
        if waiting:
            rendered_at = None
        elif rendered_at is None:
            rendered_at, cpu_at = now, cpu_seconds(processes or [])
        if rendered_at is not None and now - rendered_at >= SETTLE_S:
            used = None if cpu is None or cpu_at is None else cpu_at - cpu
            return rendered_at - started, used
        if now - started > timeout:
            raise RuntimeError(f"not fully rendered after {timeout:.0f} s: waiting for {waiting}")
        time.sleep(POLL_S)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def render_pages(
    store: Path, config: Path, pages: list[Page], *, warm_runs: int = WARM_RUNS
) -> dict[str, Any]:
    """Seconds to render each page, cold once then `warm_runs` times warm; see the module doc."""
    missing = browser_missing()
    if missing:
        return {"skipped": f"pages not rendered: {missing}"}
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tokensentry-render-") as folder:
        home = Path(folder)
        log = home / "dashboard.log"
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                serve.command(port),
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={**serve.environment(store, config), "HOME": str(home)},
            )
        driver = None
        try:
            _wait_healthy(url, process, log)
            driver = _chromium(home / "profile")
            driver.set_page_load_timeout(COLD_TIMEOUT_S)
            processes = [process.pid, driver.service.process.pid]
            # The app's own start (imports, the sidebar's org and app lists) is paid once, by
            # the first page a fresh dashboard serves: timed apart, so no page's cold figure
            # carries it. An unknown alert id makes the page read nothing but its own record
            # (and stop there, before the footer): timed warm too, it is the floor every page
            # stands on (a new Streamlit session, the sidebar, the page's frame).
            empty = Page("empty", "alert?id=bench-no-such-alert", "No alert with this id")
            startup = _render(driver, url, empty, warm_runs, processes, last=empty.expect)
            for page in pages:
                results[page.name] = _render(driver, url, page, warm_runs, processes)
        finally:
            if driver is not None:
                driver.quit()
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    if "error" in startup:
        raise RuntimeError(f"the dashboard's first page did not render: {startup['error']}")
    return {
        "target_s": TARGET_S,
        "warm_runs": warm_runs,
        "startup_s": startup["cold_s"],
        "empty_page_warm_s": startup["warm_p50_s"],
        "empty_page_warm_cpu_s": startup.get("warm_cpu_p50_s"),
        "load_average": _load_average(),
        "pages": results,
        "over_target": [
            name for name, r in results.items() if "error" in r or r["warm_max_s"] > TARGET_S
        ],
    }


def _load_average() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def _render(
    driver: Any,
    url: str,
    page: Page,
    warm_runs: int,
    processes: list[int],
    *,
    last: str = LAST_LINE,
) -> dict[str, Any]:
    figures: dict[str, Any] = {"path": "/" + page.path}
    target = f"{url}/{page.path}"
    try:
        cold, cold_cpu = _load(driver, target, page.expect, COLD_TIMEOUT_S, last, processes)
        loads = [
            _load(driver, target, page.expect, WARM_TIMEOUT_S, last, processes)
            for _ in range(warm_runs)
        ]
    except Exception as exc:  # reported per page: one broken page must not hide the others
        figures["error"] = f"{type(exc).__name__}: {exc}"[:600]
        return figures
    warm = [seconds for seconds, _ in loads]
    figures["cold_s"] = round(cold, 2)
    if cold_cpu is not None:
        figures["cold_cpu_s"] = round(cold_cpu, 2)
    figures["warm_p50_s"] = round(_median(warm), 2)
    figures["warm_max_s"] = round(max(warm), 2)
    cpu = [used for _, used in loads if used is not None]
    if cpu:
        figures["warm_cpu_p50_s"] = round(_median(cpu), 2)
    return figures
