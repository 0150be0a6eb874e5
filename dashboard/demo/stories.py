"""The demo's planted stories (data/demo_stories.toml) held against the alerts it raised.

A story `expect`s alerts (detector, org alias or "*", exact severity, an address the alert must
name) and may list `quiet` rules (nothing from that detector at that severity or above). Every
alert at medium or above must be explained by some story's expectation.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detect.detector import severity_rank
from sandbox.demo.cast import ORGS

STORIES_FILE = Path(__file__).resolve().parents[2] / "data" / "demo_stories.toml"
ALIASES = {org.org_id: org.alias for org in ORGS}


@dataclass
class StoryReport:
    stories: int = 0
    missing: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    noisy: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # a quiet rule broken
    unplanned: list[dict[str, Any]] = field(default_factory=list)  # medium+ nobody planted

    @property
    def clean(self) -> bool:
        return not (self.missing or self.noisy or self.unplanned)


def load(path: Path = STORIES_FILE) -> list[dict[str, Any]]:
    return tomllib.loads(path.read_text(encoding="utf-8"))["story"]


def matches(rule: dict[str, str], alert: dict[str, Any], *, at_least: bool = False) -> bool:
    """Does `alert` (CONTRACT §5 JSON) fit `rule`: same detector, org, address, severity?"""
    if rule["detector"] != alert["detector"]:
        return False
    if rule["org"] != "*" and ALIASES.get(alert["org_id"]) != rule["org"]:
        return False
    if "ip" in rule and rule["ip"] not in alert["ips"]:
        return False
    if at_least:
        return severity_rank(alert["severity"]) >= severity_rank(rule["severity"])
    return alert["severity"] == rule["severity"]


def check(stories: list[dict[str, Any]], alerts: list[dict[str, Any]]) -> StoryReport:
    report = StoryReport(stories=len(stories))
    expected = [rule for story in stories for rule in story.get("expect", [])]
    for story in stories:
        for rule in story.get("expect", []):
            if not any(matches(rule, alert) for alert in alerts):
                report.missing.append((story["id"], rule))
        for rule in story.get("quiet", []):
            report.noisy += [
                (story["id"], alert) for alert in alerts if matches(rule, alert, at_least=True)
            ]
    report.unplanned = [
        alert
        for alert in alerts
        if severity_rank(alert["severity"]) >= severity_rank("medium")
        and not any(matches(rule, alert) for rule in expected)
    ]
    return report
