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

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from ..model import World
from ..render import oauth_token, org_logs
from ..salesforce import write_elf, write_jsonl, write_soql
from .cast import ORGS, PARTNER_APP

DAILY_DAYS = 3
CRLF = "\r\n"  # the line ends these files have always had (the csv module's default)


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
                export.logs.append(write_elf(path, event_type, rows, line_end=CRLF))
        for event_type, rows in backfill.items():
            name = f"{event_type}-{world.start:%Y-%m-%d}-to-{backfill_until}-backfill.csv"
            export.logs.append(write_elf(folder / name, event_type, rows, line_end=CRLF))
        if logs.login_events:
            export.logs.append(write_soql(folder / "LoginEvent.json", logs.login_events))
        for moment in world.oauth_snapshots.get(org.alias, []):
            tokens = [
                oauth_token(token, moment)
                for token in world.tokens.values()
                if token.org is org and token.created <= moment
            ]
            path = write_soql(folder / f"OauthToken-{moment:%Y-%m-%d}.json", tokens)
            export.snapshots.append((path, moment))
        exports.append(export)
    return exports


def write_partner_log(world: World, path: Path) -> Path:
    return write_jsonl(path, (call.line() for call in world.partner_calls))


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
