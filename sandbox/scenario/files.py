"""The scenario world's delivery: which files each org and the partner hand over, per ISO
week, and when each reaches tokensentry. Every record is written by the shared renderers
(`sandbox.render`, `PartnerCall.line`).

API orgs: one LoginHistory SOQL page per week (with LoginGeo), delivered an hour after its last
day ends; their Organization row (time zone). ELF orgs: Login, RestApi, BulkApi2 and
ApiTotalUsage event log files per week, delivered five hours after its last day ends (ELF
lands 3-6 h late); their Login rows carry no app. Both: OauthToken results per snapshot. The
partner: one token-log file per week.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..model import Org, World
from ..render import (
    elf_api_total_usage,
    elf_bulk_api2,
    elf_login,
    elf_rest_api,
    login_history,
    oauth_token_read,
)
from ..salesforce import organization, write_elf, write_jsonl, write_soql
from .model import WorldFile

LOGIN_HISTORY_DELAY = timedelta(hours=1)
ELF_DELAY = timedelta(hours=5)


def _day(moment: datetime) -> str:
    """The file period: an ISO week (Salesforce serves daily or hourly files; a week per file
    keeps the world to a few dozen files while every late-arrival order still happens)."""
    return f"{moment:%G-W%V}"


def _group(items: Iterable[Any], key: Callable[[Any], tuple]) -> dict[tuple, list[Any]]:
    groups: dict[tuple, list[Any]] = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    return groups


def _end_of(rows: list[Any]) -> datetime:
    """The end of the UTC day of the period's newest row."""
    newest = max(row.at for row in rows)
    return datetime(newest.year, newest.month, newest.day) + timedelta(days=1)


def deliver(world: World, orgs: list[Org], root: Path) -> list[WorldFile]:
    """Write every file under `root`; return them with the org and time each is delivered."""
    files: list[WorldFile] = []

    def add(path: Path, org: Org | None, delivered: datetime) -> None:
        files.append(WorldFile(str(path.relative_to(root)), org.org_id if org else None, delivered))

    for org in orgs:
        folder = root / org.alias
        logins = _group(world.of(org), lambda x: (_day(x.at),))
        if org.evidence == "api":
            for (day,), rows in sorted(logins.items()):
                rows.sort(key=lambda x: x.at)
                path = write_soql(
                    folder / f"LoginHistory-{day}.json", [login_history(x) for x in rows]
                )
                add(path, org, _end_of(rows) + LOGIN_HISTORY_DELAY)
            if org.time_zone:
                record = organization(org.org_id, org.time_zone, org.alias)
                first = min(files, key=lambda f: f.delivered_at).delivered_at
                add(write_soql(folder / "Organization.json", [record]), org, first)
        else:
            for (day,), rows in sorted(logins.items()):
                rows.sort(key=lambda x: x.at)
                path = write_elf(folder / f"Login-{day}.csv", "Login", [elf_login(x) for x in rows])
                add(path, org, _end_of(rows) + ELF_DELAY)
            calls = [c for c in world.api_calls if c.org is org]
            kinds: list[tuple[str, list[Any], Callable[[Any], dict[str, str]]]] = [
                ("ApiTotalUsage", calls, elf_api_total_usage),
                ("BulkApi2", [j for j in world.bulk_jobs if j.org is org], elf_bulk_api2),
                ("RestApi", [c for c in calls if c.rest_api], elf_rest_api),
            ]
            for kind, records, row in kinds:
                for (day,), rows in sorted(_group(records, lambda c: (_day(c.at),)).items()):
                    rows.sort(key=lambda c: c.at)
                    path = write_elf(folder / f"{kind}-{day}.csv", kind, [row(c) for c in rows])
                    add(path, org, _end_of(rows) + ELF_DELAY)
        snapshots = _group(
            (t for t in world.token_reads if t.token.org is org), lambda t: (t.read_at,)
        )
        for (read_at,), tokens in sorted(snapshots.items()):
            path = write_soql(
                folder / f"OauthToken-{read_at:%Y-%m-%dT%H%M}.json",
                [oauth_token_read(t) for t in tokens],
            )
            add(path, org, read_at)
    by_day = _group(world.partner_calls, lambda c: (_day(c.at),))
    for (day,), calls in sorted(by_day.items()):
        calls.sort(key=lambda c: c.at)
        path = write_jsonl(root / "partner" / f"token-log-{day}.jsonl", [c.line() for c in calls])
        add(path, None, _end_of(calls))
    return files
