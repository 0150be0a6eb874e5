"""Data theft in the scenario month, beside the partner's own exports.

UNC6395's pattern with a stolen token: `SELECT COUNT()` over a dozen objects, then Case and
Contact exported through Bulk API 2.0 (one BulkApi2 row per job-state change, the job deleted
after completion); and a REST export that pages through a query (`nextRecordsUrl`, later pages
named only by the query locator). Beside them, what a partner really does: a nightly Bulk API
2.0 export of Account and Opportunity from its allowlisted egress, four times larger at the
month's end.

Each theft takes the org's live token chain (`Scenario.theft`), so it also raises what a stolen
token raises; the API activity runs in the thief's own login sessions.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..model import BulkJob, Org, unplaced
from ..salesforce import stable_id
from .fleet import BY_ALIAS, DAYS, EGRESS_IPS, START, Fleet
from .plants import Scenario, at

RECON_OBJECTS = ("Account", "Contact", "Case", "Lead", "Opportunity", "User", "Task", "Event",
                 "Campaign", "Contract", "Order", "Quote")  # fmt: skip
BULK_THIEF = "146.70.38.12"
PAGING_THIEF = "91.92.240.17"
PAGE = 2000


def _thief_keys(fleet: Fleet, org: Org, ip: str, since: datetime) -> list[str]:
    """The login keys of the thief's refreshes (planted by `Scenario.theft`), oldest first."""
    return [
        login.login_key
        for login in sorted(fleet.world.logins, key=lambda x: x.at)
        if login.org is org and login.place.ip == ip and login.at >= since
    ]


def bulk_job(fleet: Fleet, org: Org, start: datetime, ip: str, key: str, entity: str,
             records: int, *, delete: bool = False) -> None:  # fmt: skip
    """A Bulk API 2.0 query job as BulkApi2 logs it: one row per state change, the counter
    growing to `records`; `delete`: the job deleted after completion (its row reports 0)."""
    user = org.integration_user or ""
    job_id = stable_id("7505g", org.alias, start, entity)
    states = [("UploadComplete", 0, 0), ("InProgress", records // 2, 3),
              ("JobComplete", records, 7)] + ([("Deleted", 0, 9)] if delete else [])  # fmt: skip
    for status, count, minutes in states:
        fleet.world.bulk_jobs.append(
            BulkJob(org, start + timedelta(minutes=minutes), user, unplaced(ip), entity, count,
                    job_id, status=status, login_key=key)
        )  # fmt: skip


def bulk_theft(s: Scenario, alias: str, start: datetime) -> None:
    """Recon with COUNT() over twelve objects, then 1.2 M Cases and 850 k Contacts exported
    through Bulk API 2.0 and the jobs deleted."""
    org = BY_ALIAS[alias]
    s.theft("stolen token: COUNT() recon, then a Bulk API 2.0 export", alias, start, BULK_THIEF,
            agent="python-requests/2.32.4")  # fmt: skip

    def act(fleet: Fleet) -> None:
        first, second, *_ = _thief_keys(fleet, org, BULK_THIEF, start)
        user = org.integration_user or ""
        for n, entity in enumerate(RECON_OBJECTS):
            fleet.api(org, start + timedelta(seconds=20 + 15 * n), user, BULK_THIEF, first,
                      "python-requests/2.32.4", entity=entity, rows=1)  # fmt: skip
        moment = start + timedelta(minutes=7)
        bulk_job(fleet, org, moment, BULK_THIEF, second, "Case", 1_200_000, delete=True)
        bulk_job(fleet, org, moment + timedelta(minutes=1), BULK_THIEF, second, "Contact",
                 850_000, delete=True)  # fmt: skip

    s.plant(start + timedelta(minutes=23), act)
    s.expect("stolen token: COUNT() recon, then a Bulk API 2.0 export",
             "data theft with a stolen token (UNC6395)", "data_exfiltration", "critical", alias,
             {BULK_THIEF}, start, start + timedelta(minutes=20))  # fmt: skip


def paging_theft(s: Scenario, alias: str, start: datetime) -> None:
    """A REST export: a query per object, then its later pages (`nextRecordsUrl`), which name
    only the query locator: 100 pages of Opportunity, 50 of Account."""
    org = BY_ALIAS[alias]
    s.theft("stolen token: REST export paging through queryMore", alias, start, PAGING_THIEF,
            agent="aiohttp/3.9.5")  # fmt: skip

    def act(fleet: Fleet) -> None:
        key, *_ = _thief_keys(fleet, org, PAGING_THIEF, start)
        moment = start + timedelta(seconds=30)
        for number, (entity, pages) in enumerate((("Opportunity", 100), ("Account", 50))):
            locator = stable_id("01g5g", org.alias, entity)[:15]
            for page in range(pages + 1):
                moment += timedelta(milliseconds=700)
                uri = f"/services/data/v62.0/query/{locator}-{page * PAGE}" if page else ""
                _rest(fleet, org, moment, key, entity if not page else "", uri)
            moment += timedelta(seconds=5 + number)

    s.plant(start + timedelta(minutes=23), act)
    s.expect("stolen token: REST export paging through queryMore",
             "data theft with a stolen token (UNC6395)", "data_exfiltration", "critical", alias,
             {PAGING_THIEF}, start, start + timedelta(minutes=20))  # fmt: skip


def _rest(fleet: Fleet, org: Org, moment: datetime, key: str, entity: str, uri: str) -> None:
    fleet.api(org, moment, org.integration_user or "", PAGING_THIEF, key, "aiohttp/3.9.5",
              entity=entity, rows=PAGE)  # fmt: skip
    fleet.world.api_calls[-1].uri = uri


def nightly_exports(s: Scenario, alias: str) -> None:
    """The partner's nightly Bulk API 2.0 export of Account and Opportunity, in the session of
    its latest refresh, from the egress on duty; four times larger on the month's last day."""
    org = BY_ALIAS[alias]
    last = START + timedelta(days=DAYS - 1, hours=0, minutes=40)

    def night(day: int) -> None:
        moment = START + timedelta(days=day, minutes=40)
        peak = 4 if moment.date() == last.date() else 1

        def act(fleet: Fleet) -> None:
            login = max((x for x in fleet.world.logins
                         if x.org is org and x.user_id == org.integration_user
                         and x.at <= moment and x.succeeded), key=lambda x: x.at)  # fmt: skip
            ip, key = login.place.ip, login.login_key
            spread = fleet.rng.randint(0, 8000)
            bulk_job(fleet, org, moment, ip, key, "Account", peak * (42_000 + spread))
            bulk_job(fleet, org, moment + timedelta(minutes=2), ip, key, "Opportunity",
                     peak * (71_000 + spread))  # fmt: skip

        s.plant(moment, act)

    for day in range(DAYS):
        night(day)
    s.trap("the partner's nightly Bulk API 2.0 exports and its month-end peak", alias,
           set(EGRESS_IPS), START, last + timedelta(hours=1))  # fmt: skip


def exfiltration(s: Scenario) -> None:
    """The data-theft stories and the routine exports beside them."""
    bulk_theft(s, "charlie", at(15, 1, 5))
    paging_theft(s, "delta", at(13, 2, 5))
    nightly_exports(s, "echo")
