"""Per org, the demo world as the files and API resources Salesforce would hand over."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from .activity import World
from .cast import Org
from .render import (
    elf_api_total_usage,
    elf_bulk_api2,
    elf_login,
    elf_logout,
    login_event,
    login_history,  # fmt: skip
)


@dataclass
class OrgLogs:
    org: Org
    login_history: list[dict[str, object]] = field(default_factory=list)
    login_events: list[dict[str, object]] = field(default_factory=list)
    elf: dict[tuple[str, str], list[dict[str, str]]] = field(default_factory=dict)
    """(event type, UTC day) → rows of that day's file."""


def org_logs(world: World, org: Org) -> OrgLogs:
    logs = OrgLogs(org)
    elf: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for login in world.of(org):
        logs.login_history.append(login_history(login))
        if org.login_event:
            logs.login_events.append(login_event(login))
        if org.event_monitoring:
            elf[("Login", login.at.strftime("%Y-%m-%d"))].append(elf_login(login))
    if org.event_monitoring:
        for logout in world.logouts:
            if logout.org is org and logout.at < world.end:
                elf[("Logout", logout.at.strftime("%Y-%m-%d"))].append(elf_logout(logout))
        for call in world.api_calls:
            if call.org is org:
                day = call.at.strftime("%Y-%m-%d")
                elf[("ApiTotalUsage", day)].append(elf_api_total_usage(call))
        for job in world.bulk_jobs:
            if job.org is org:
                elf[("BulkApi2", job.at.strftime("%Y-%m-%d"))].append(elf_bulk_api2(job))
    for rows in elf.values():
        rows.sort(key=lambda row: row["TIMESTAMP"])
    logs.elf = dict(sorted(elf.items()))
    return logs
