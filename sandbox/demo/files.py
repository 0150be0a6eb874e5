"""The import-only orgs' evidence, written as the files their admins export.

umbrella and hooli have no API access for tokensentry: each sends its EventLogFile downloads
(Login, Logout, ApiTotalUsage, BulkApi2), weekly OauthToken exports (Data Loader's JSON), and
umbrella its LoginEvent export too. The last `DAILY_DAYS` days come one CSV per type and day, as
Salesforce serves them; the weeks before arrived as the admin's backfill, one CSV per type with
those days' files concatenated (same header). One file per type and day for a whole month would
make the demo spend most of its minute on per-file overhead. The partner's own token-exchange
log is one JSON Lines file for every org.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from .activity import World
from .cast import ORGS, PARTNER_APP
from .exports import org_logs
from .render import COLUMNS, oauth_token

DAILY_DAYS = 3


@dataclass
class OrgExport:
    """One import-only org's files: its logs, and its token snapshots with when each was taken
    (the demo imports each snapshot "at" that moment, as the weekly import job would have)."""

    org_id: str
    logs: list[Path] = field(default_factory=list)
    snapshots: list[tuple[Path, datetime]] = field(default_factory=list)


def write_exports(world: World, root: Path) -> list[OrgExport]:
    """Write every import-only org's folder under `root`."""
    exports = []
    for org in ORGS:
        if org.delivery != "files":
            continue
        folder = root / org.alias
        folder.mkdir(parents=True, exist_ok=True)
        export = OrgExport(org.org_id)
        logs = org_logs(world, org)
        backfill_until = f"{world.end - timedelta(days=DAILY_DAYS):%Y-%m-%d}"
        backfill: dict[str, list[dict[str, str]]] = {}
        for (event_type, day), rows in logs.elf.items():
            if day < backfill_until:
                backfill.setdefault(event_type, []).extend(rows)
            else:
                path = folder / f"{event_type}-{day}.csv"
                export.logs.append(_write_csv(path, COLUMNS[event_type], rows))
        for event_type, rows in backfill.items():
            name = f"{event_type}-{world.start:%Y-%m-%d}-to-{backfill_until}-backfill.csv"
            export.logs.append(_write_csv(folder / name, COLUMNS[event_type], rows))
        if logs.login_events:
            export.logs.append(_write_json(folder / "LoginEvent.json", _result(logs.login_events)))
        for moment in world.oauth_snapshots.get(org.alias, []):
            tokens = [
                oauth_token(token, moment)
                for token in world.tokens.values()
                if token.org is org and token.created <= moment
            ]
            path = _write_json(folder / f"OauthToken-{moment:%Y-%m-%d}.json", _result(tokens))
            export.snapshots.append((path, moment))
        exports.append(export)
    return exports


def write_partner_log(world: World, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for call in world.partner_calls:
            handle.write(json.dumps(call.line()) + "\n")
    return path


def config_apps() -> str:
    """The partner's own app and its allowlist: the only app the scoped detectors watch."""
    from .cast import ALLOWLIST, PARTNER_CONSUMER_KEY

    return (
        f'[apps."{PARTNER_APP}"]\nconsumer_key = "{PARTNER_CONSUMER_KEY}"\n'
        f"allowlist = {json.dumps(ALLOWLIST)}\n"
    )


def config_import_orgs() -> str:
    """Import-only orgs: an org id and no connection settings (CONTRACT §8)."""
    return "\n".join(
        f'[orgs.{org.alias}]\norg_id = "{org.org_id}"\nkind = "{org.kind}"\n'
        for org in ORGS
        if org.delivery == "files"
    )


def _result(records: list) -> dict[str, object]:
    return {"totalSize": len(records), "done": True, "records": records}


def _write_json(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    return path


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows(rows)
    return path
