"""The demo fleet written out as files: exports a partner could feed to `tokensentry import`.

The demo itself serves the fleet from the fake Salesforce; these writers give the same data as
LoginHistory JSON pages, Login ELF CSVs, OauthToken results and the partner's token log.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from . import (
    ALLOWLIST,
    APP,
    ATTACKS,
    CONSUMER_KEY,
    ELF_HEADER,
    ORGS,
    Fleet,
    build,
)  # fmt: skip


@dataclass
class DemoFiles:
    root: Path
    config: Path
    files: list[Path] = field(default_factory=list)
    org_dirs: dict[str, Path] = field(default_factory=dict)  # org id → its export folder
    partner_log: Path | None = None
    planted: dict[str, str] = field(default_factory=dict)  # alias → IP


def write(root: Path, *, now: datetime, seed: int = 42) -> DemoFiles:
    """Write the demo export under `root` and the config beside it; return what was written."""
    fleet = build(now=now, seed=seed)
    export = root / "export"
    demo = DemoFiles(root=root, config=root / "tokensentry.toml")
    for org_export in fleet.orgs:
        org = org_export.org
        demo.planted[org.alias] = ATTACKS[org.alias][0]
        folder = export / org.alias
        demo.org_dirs[org.org_id] = folder
        for day, records in sorted(org_export.login_history.items()):
            path = folder / f"LoginHistory-{day}.json"
            _write_json(path, {"totalSize": len(records), "done": True, "records": records})
            demo.files.append(path)
        for day, rows in sorted(org_export.elf_login.items()):
            demo.files.append(_write_elf(folder / f"Login-{day}.csv", rows))
        path = folder / "OauthToken.json"
        _write_json(path, org_export.oauth_tokens)
        demo.files.append(path)
    demo.partner_log = write_partner_log(export / "partner" / "token-exchange.jsonl", fleet)
    demo.files.append(demo.partner_log)
    demo.config.write_text(config_text(), encoding="utf-8")
    return demo


def write_partner_log(path: Path, fleet: Fleet) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(json.dumps(line) + "\n" for line in fleet.partner_lines), encoding="utf-8"
    )
    return path


def elf_csv_bytes(rows: list[dict[str, str]], header: list[str] = ELF_HEADER) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def config_text_apps() -> str:
    """The monitored app and its allowlist, as the demo's config declares them."""
    return f'[apps."{APP}"]\nconsumer_key = "{CONSUMER_KEY}"\nallowlist = {json.dumps(ALLOWLIST)}\n'


def config_text() -> str:
    """Config for importing the written export (orgs named, no credentials needed)."""
    orgs = "\n".join(
        f'[orgs.{org.alias}]\norg_id = "{org.org_id}"\nkind = "subscriber"\n'
        f'instance_url = "https://{org.alias}.my.salesforce.com"\n'
        for org in ORGS
    )
    return "# Written by `tokensentry demo`.\n\n" + config_text_apps() + "\n" + orgs


def _write_json(path: Path, document: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")


def _write_elf(path: Path, rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=ELF_HEADER, quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows(rows)
    return path
