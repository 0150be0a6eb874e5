"""What the demo and the scenario world observe, captured so that moving or merging the
simulated fleet (`sandbox/`) can be shown to change nothing.

`python -m tests.golden` rewrites tests/golden/baseline.json from a fresh demo build (at
`DEMO_AS_OF`) and a fresh scenario run (both import orders); tests/test_golden.py compares a
build against it. The baseline holds the demo's alerts (id, detector, severity, org, the
stories whose expectations they meet) and incidents (id, severity, the alerts they group), and
the scenario's verdicts (every planted attack: met or not, at which severities; every alert's
id, detector and severity).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

BASELINE = Path(__file__).resolve().parent / "golden" / "baseline.json"


def demo_snapshot(store: Path) -> dict[str, Any]:
    from click.testing import CliRunner

    from dashboard.cli import cli
    from dashboard.demo import stories
    from ingest import db

    result = CliRunner().invoke(cli, ["--db", str(store), "alerts", "--format", "json"])
    alerts = json.loads(result.stdout)
    rules = [(story["id"], rule) for story in stories.load() for rule in story.get("expect", [])]
    rows = [
        {
            "id": a["alert_id"],
            "detector": a["detector"],
            "severity": a["severity"],
            "org": stories.ALIASES.get(a["org_id"], a["org_id"]),
            "stories": sorted({sid for sid, rule in rules if stories.matches(rule, a)}),
        }
        for a in alerts
    ]
    with db.connect(store, read_only=True) as con:
        members = con.execute(
            "SELECT i.incident_id, i.severity, list_sort(i.detectors), "
            "list_sort(list(m.alert_id)) FROM incidents i JOIN incident_alerts m "
            "USING (incident_id) GROUP BY ALL ORDER BY i.incident_id"
        ).fetchall()
    incidents = [
        {"id": i, "severity": s, "detectors": list(d), "alerts": list(a)} for i, s, d, a in members
    ]
    return {"alerts": sorted(rows, key=lambda r: r["id"]), "incidents": incidents}


def scenario_snapshot(root: Path, order: str) -> dict[str, Any]:
    from tests.detect.world_judge import found, run_world, score

    world, alerts = run_world(root, order)
    verdicts = [
        {
            "label": x.label,
            "detector": x.detector,
            "severity": x.severity,
            "met": any(a.severity == x.severity for a in found(alerts, x)),
            "hits": sorted(a.severity for a in found(alerts, x)),
        }
        for x in world.attacks
    ]
    numbers = score(world, alerts)
    return {
        "verdicts": verdicts,
        "alerts": sorted(
            [{"id": a.alert_id, "detector": a.detector, "severity": a.severity} for a in alerts],
            key=lambda r: r["id"],
        ),
        "score": {k: numbers[k] for k in ("loud_alerts", "true_positives", "missed")},
    }


def capture() -> dict[str, Any]:
    from click.testing import CliRunner

    from dashboard.cli import cli
    from tests.conftest import DEMO_AS_OF

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = folder / "demo.duckdb"
        args = ["--db", str(store), "demo", "--no-serve", "--dir", str(folder)]
        result = CliRunner().invoke(cli, [*args, "--as-of", DEMO_AS_OF])
        assert result.exit_code == 0, result.stderr
        demo = demo_snapshot(store)
        scenario = {o: scenario_snapshot(folder / o, o) for o in ("delivered", "reversed")}
    return {"as_of": DEMO_AS_OF, "demo": demo, "scenario": scenario}


def write(path: Path = BASELINE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(capture(), indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else BASELINE)
