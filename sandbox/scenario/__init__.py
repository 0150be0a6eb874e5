"""A multi-org world in Salesforce's own file formats, with attacks and benign traps planted.

The adversarial world of tests/detect/test_world_scenario.py: `write(root)` renders a
month of five subscriber orgs of the partner app "Acme Sync" (`fleet.py`), with the attacks and
traps of `plants.py`, as the files each org and the partner would hand over (`files.py`), plus
the configuration that describes them. Its records are the shared world model's
(`sandbox.model`), written by the shared renderers and writers (`sandbox.render`,
`sandbox.salesforce`, `sandbox.elf`). It knows nothing of the detectors (`sandbox` never
imports `detect`): what each attack should raise is data (`Planted`), judged by whoever runs
them.

Output is a pure function of nothing: the same files every time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..model import Org
from . import nonat
from .files import deliver
from .fleet import ALLOWLIST, APP, NOW, ORGS, build_fleet
from .model import Benign, Planted, WorldFile
from .traps import phone_addresses, scenario

__all__ = ["NOW", "World", "write"]


@dataclass(frozen=True)
class World:
    root: Path
    config: Path
    files: list[WorldFile]
    orgs: list[Org]
    attacks: list[Planted]
    benign: list[Benign]

    def delivery_order(self) -> list[WorldFile]:
        """As the files would arrive: by delivery time."""
        return sorted(self.files, key=lambda f: (f.delivered_at, f.path))


def _config(orgs: list[Org]) -> str:
    lines = [
        f'[apps."{APP}"]',
        f"allowlist = [{', '.join(repr(c).replace(chr(39), chr(34)) for c in ALLOWLIST)}]",
        "",
        *nonat.config_lines(),
    ]
    # The orgs are import-only: every file names its org (or is imported with --org).
    lines += [f"# {org.alias}: {org.org_id} ({org.evidence})" for org in orgs]
    return "\n".join(lines) + "\n"


def write(root: Path) -> World:
    """Render the world under `root` (files and `tokensentry.toml`); return what was written."""
    plan = scenario()
    fleet = build_fleet(plan.plants)
    files = deliver(fleet.world, ORGS, root)
    config = root / "tokensentry.toml"
    config.write_text(_config(ORGS), encoding="utf-8")
    phones = phone_addresses(fleet)
    benign = [
        *plan.benign,
        Benign(
            "people's phones on carrier networks",
            None,
            frozenset(phones),
            min(f.delivered_at for f in files),
            NOW,
        ),
    ]
    return World(root, config, files, list(ORGS), plan.attacks, benign)
