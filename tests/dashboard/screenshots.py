"""Screenshots of every page from the demo data, on a desktop and a phone: `make screenshots`.

Builds the demo store in a temporary folder (`tokensentry demo --no-serve`), serves it with
`tokensentry dashboard` and photographs each page in Debian's headless Chromium, through the
same driver as the browser test, at 1440 px (`NAME.png`) and 390 px wide (`NAME-390.png`), the
whole page height. Usage: python -m tests.dashboard.screenshots [OUT_DIR]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from selenium import webdriver

from ingest import db

from .browser import chromium, dashboard, open_page

WIDTHS = ((1440, ""), (390, "-390"))  # desktop, and a phone held upright
MAX_HEIGHT = 6000  # px: a longer page is cut, as a reader's screen would

PAGES = {  # file name -> (path, text that says the page has rendered)
    "overview": ("", "Open alerts by severity"),
    "queue": ("queue", "incident(s) match"),
    "incident": ("incident?id={incident}", "Audit trail"),
    "alert": ("alert?id={alert}", "Audit trail"),
    "search": ("search?q=208.68.36.90", "Newest events"),  # the demo's published IOC
    "apps": ("apps", "Known egress"),
    "controls": ("controls", "The rows that prove each verdict"),
    "tokens": ("tokens", "Dormant tokens used again"),
    "pipeline": ("pipeline", "Quarantine"),
}


def main(out_dir: Path) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tokensentry-shots-") as work:
        folder = Path(work)
        store = folder / "demo.duckdb"
        script = Path(sys.executable).with_name("tokensentry")
        subprocess.run(
            [str(script), "--db", str(store), "demo", "--no-serve", "--dir", str(folder)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        with db.connect(store, read_only=True) as con:
            incident, alert = con.execute(
                """SELECT i.incident_id, min(m.alert_id)
                   FROM incidents i JOIN incident_alerts m USING (incident_id)
                   GROUP BY i.incident_id, i.severity, i.last_seen_at
                   ORDER BY list_position(['info','low','medium','high','critical'], i.severity)
                            DESC, i.last_seen_at DESC LIMIT 1"""
            ).fetchone()
        with dashboard(store, folder / "tokensentry.toml", folder) as url:
            for width, suffix in WIDTHS:
                driver = chromium(folder / f"profile-{width}", width=width, height=1000)
                try:
                    for name, (path, expect) in PAGES.items():
                        target = f"{url}/{path.format(incident=incident, alert=alert)}"
                        open_page(driver, target, expect)
                        shot = out_dir / f"{name}{suffix}.png"
                        _whole_page(driver, width, shot)
                        print(shot)
                finally:
                    driver.quit()
    return 0


def _whole_page(driver: webdriver.Chrome, width: int, shot: Path) -> None:
    """Streamlit scrolls inside its main section, not the window: size the window to the
    content's height (capped) so the picture shows the whole page, then restore it."""
    height = driver.execute_script(
        "const m = document.querySelector('[data-testid=\"stMain\"]')"
        " || document.querySelector('section.main');"
        "return m ? m.scrollHeight : document.body.scrollHeight;"
    )
    driver.set_window_size(width, min(max(int(height) + 140, 800), MAX_HEIGHT))
    driver.save_screenshot(str(shot))
    driver.set_window_size(width, 1000)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "dashboard/web/screenshots")))
