"""Import a `sandbox.scenario` world through the real importer, detect, and judge the alerts.

Shared by the scenario test and the precision/recall measurement (which also runs it against
older code), so it uses only the store, the importer and the runner's public entry points.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from detect import runner
from ingest import config as config_module
from ingest import db
from ingest.importer import import_paths
from sandbox.scenario import NOW, World, write
from sandbox.scenario.model import Benign, Planted, WorldFile

SEVERITIES = ["info", "low", "medium", "high", "critical"]


@dataclass(frozen=True)
class Alert:
    alert_id: str
    detector: str
    severity: str
    org_id: str | None
    ips: frozenset[str]
    first_seen: datetime
    last_seen: datetime
    summary: str
    evidence: str

    @property
    def loud(self) -> bool:
        return SEVERITIES.index(self.severity) >= SEVERITIES.index("medium")


def overlaps(alert: Alert, start: datetime, end: datetime) -> bool:
    return alert.first_seen <= end and alert.last_seen >= start


def footprint(alert: Alert, item: Planted | Benign) -> bool:
    """The alert is about this attack or trap: same org (None: any), a shared IP, same time."""
    return (
        (item.org_id is None or alert.org_id == item.org_id)
        and bool(alert.ips & item.ips)
        and overlaps(alert, item.start, item.end)
    )


def found(alerts: list[Alert], attack: Planted) -> list[Alert]:
    return [a for a in alerts if a.detector == attack.detector and footprint(a, attack)]


def import_world(con, world: World, order: str) -> None:
    """Import the world file by file, each at its delivery time, in `order` ("delivered": as
    the files arrive; "reversed": newest first, so every late row lands before what preceded
    it)."""
    files: list[WorldFile] = world.delivery_order()
    if order == "reversed":
        files = files[::-1]
    for number, item in enumerate(files):
        import_paths(con, [world.root / item.path], org_id=item.org_id, run_id=f"i{number}",
                     now=lambda moment=item.delivered_at: moment)  # fmt: skip


def alerts_of(con) -> list[Alert]:
    rows = con.execute(
        "SELECT alert_id, detector_id, severity, org_id, ips, first_seen_at, last_seen_at, "
        "summary, evidence FROM alerts ORDER BY first_seen_at, alert_id"
    ).fetchall()
    return [Alert(r[0], r[1], r[2], r[3], frozenset(r[4]), *r[5:]) for r in rows]


def run_world(root: Path, order: str) -> tuple[World, list[Alert]]:
    """Write the world under `root`, import it in `order`, then run every detector over
    everything (`detect --all`)."""
    world = write(root)
    con = db.memory()
    import_world(con, world, order)
    runner.run(con, config_module.load(world.config), run_id="world", now=lambda: NOW,
               rescan_all=True)  # fmt: skip
    alerts = alerts_of(con)
    con.close()
    return world, alerts


def score(world: World, alerts: list[Alert]) -> dict[str, object]:
    """Precision: alerts at medium or more that belong to a planted attack. Recall: planted
    expectations met by the right detector at exactly the right severity."""
    loud = [a for a in alerts if a.loud]
    true = [a for a in loud if any(footprint(a, attack) for attack in world.attacks)]
    met = [x for x in world.attacks if any(a.severity == x.severity for a in found(alerts, x))]
    detected = [x for x in world.attacks if any(a.loud for a in found(alerts, x))]
    false = [a for a in loud if a not in true]
    return {
        "loud_alerts": len(loud),
        "true_positives": len(true),
        "precision": round(len(true) / len(loud), 3) if loud else 1.0,
        "expectations": len(world.attacks),
        "recall_exact_severity": round(len(met) / len(world.attacks), 3),
        "recall_medium_or_more": round(len(detected) / len(world.attacks), 3),
        "missed": [f"{x.detector}/{x.severity}: {x.label}" for x in world.attacks if x not in met],
        "false_positives": [f"{a.detector}/{a.severity}: {a.summary[:160]}" for a in false],
    }
