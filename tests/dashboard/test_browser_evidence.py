"""Incident pages of the demo in a real headless Chromium (issue 14): the alerts most severe
first, related alerts only by a suspect address, token or user (never the partner's allowlisted
egress, never the incident's own alerts), a map whose coastlines, points and jump are drawn from
bundled data, and not one request to anything but the dashboard itself."""

from __future__ import annotations

import ipaddress

from selenium.webdriver.common.by import By

from ingest import config as config_module
from ingest import db

from .browser import dashboard, open_page

RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}
RELATIONS = {"same IP", "same token chain", "same user"}


def table_after(driver, heading: str) -> tuple[list[str], list[list[str]]]:
    """The header and rows of the first static table below the subheader `heading`."""
    table = driver.find_element(
        By.XPATH, f"//h3[contains(., '{heading}')]/following::*[@data-testid='stTable'][1]"
    )
    header = [th.text.strip() for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
    rows = [
        [cell.text.strip() for cell in row.find_elements(By.XPATH, "./th|./td")]
        for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")
    ]
    return header, rows


def column(header: list[str], rows: list[list[str]], name: str) -> list[str]:
    index = header.index(name)
    return [row[index] for row in rows]


def external_requests(driver, url: str) -> list[str]:
    names = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    return [n for n in names if not n.startswith((url, "data:", "blob:"))]


def map_marks(driver) -> dict[str, int]:
    """Counts of what Vega drew in the map (the chart with coastlines), from its SVG."""
    return driver.execute_script(
        """for (const chart of document.querySelectorAll('[data-testid="stVegaLiteChart"]')) {
               const lines = chart.querySelectorAll('g.mark-line path').length;
               if (lines < 50) continue;
               return {coast: lines,
                       points: chart.querySelectorAll('g.mark-symbol path').length,
                       jumps: chart.querySelectorAll('g.mark-rule line').length,
                       labels: Array.from(chart.querySelectorAll('g.mark-text text'))
                                    .map(t => t.textContent).join(' | ')};
           }
           return null;"""
    )


def test_incident_pages_sorted_related_and_mapped_offline(store_copy, browser, tmp_path):
    config_path = store_copy.parent / "tokensentry.toml"
    config = config_module.load(config_path)
    nets = [app.allowlist for app in config.apps.values() if app.allowlist is not None]
    with db.connect(store_copy, read_only=True) as con:
        incidents = dict(
            con.execute(
                """SELECT i.incident_id, list(m.alert_id) FROM incidents i
                   JOIN incident_alerts m USING (incident_id)
                   WHERE i.alert_count >= 3 GROUP BY ALL"""
            ).fetchall()
        )
        travel = con.execute(
            "SELECT incident_id FROM incident_alerts m JOIN alerts a USING (alert_id) "
            "WHERE a.detector_id = 'impossible_travel'"
        ).fetchone()[0]
    checked_related = 0
    with dashboard(store_copy, config_path, tmp_path) as url:
        for incident, members in sorted(incidents.items()):
            open_page(browser, f"{url}/incident?id={incident}", "Audit trail", timeout=120)
            header, rows = table_after(browser, "Alerts (")
            ranks = [RANK[s] for s in column(header, rows, "severity")]
            assert ranks == sorted(ranks, reverse=True), (incident, ranks)
            if browser.find_elements(By.XPATH, "//h3[contains(., 'Related alerts')]"
                                     "/following::*[@data-testid='stTable']"):  # fmt: skip
                header, rows = table_after(browser, "Related alerts")
                for relation, shared, alert_id in zip(
                    column(header, rows, "relation"),
                    column(header, rows, "shared"),
                    column(header, rows, "alert_id"),
                    strict=True,
                ):
                    assert set(relation.split(", ")) <= RELATIONS, relation
                    assert alert_id not in members  # the incident's own alerts are not related
                    for value in shared.replace(";", ",").split(","):
                        value = value.strip()
                        try:
                            ipaddress.ip_address(value)
                        except ValueError:
                            continue  # a user id
                        assert not any(value in net for net in nets), (incident, value)
                    checked_related += 1
            assert external_requests(browser, url) == []
        assert checked_related > 0, "the demo's theft wave shares its attacker's address"

        open_page(browser, f"{url}/incident?id={travel}", "Audit trail", timeout=120)
        marks = map_marks(browser)
        assert marks is not None, "no map with coastlines on the impossible-travel incident"
        assert marks["coast"] > 100 and marks["points"] >= 2 and marks["jumps"] >= 1
        assert "km/h" in marks["labels"] and "Palo Alto" in marks["labels"]
        assert external_requests(browser, url) == []
