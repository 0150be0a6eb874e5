"""README screenshots of the main pages from the demo data: `make screenshots`.

Builds the demo store in a temporary folder (`tokensentry demo --no-serve`), serves it with
`tokensentry dashboard` and photographs each page in Debian's headless Chromium, through the
same driver as the browser test. Usage: python -m tests.dashboard.screenshots [OUT_DIR]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from ingest import db

from .browser import chromium, dashboard, open_page

PAGES = {  # file name -> (path, text that says the page has rendered)
    "overview": ("", "Open alerts by severity"),
    "queue": ("queue", "incident(s) match"),
    "incident": ("incident?id={incident}", "Audit trail"),
    "alert": ("alert?id={alert}", "Audit trail"),
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
        driver = chromium(folder / "profile", width=1500, height=1100)
        try:
            with dashboard(store, folder / "tokensentry.toml", folder) as url:
                for name, (path, expect) in PAGES.items():
                    target = f"{url}/{path.format(incident=incident, alert=alert)}"
                    open_page(driver, target, expect)
                    driver.save_screenshot(str(out_dir / f"{name}.png"))
                    print(out_dir / f"{name}.png")
        finally:
            driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")))
