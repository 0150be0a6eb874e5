"""The no-NAT partner: a second vendor's app whose workers have no NAT gateway yet.

"Nimbus Relay" is installed in three of the orgs (two send LoginHistory, one event log files)
and configured without an allowlist: its workers refresh each org's token every three hours
from whatever address AWS hands them in us-east-1, a new /24 every day. Judged by block, that
is a `new_network` alert per org per day and a `cross_org` "vendor compromise" every day; judged
by owner it is one network, the app's rotating region. Its stories:

- benign: the daily rotation through AWS us-east-1 blocks, in every org;
- attacks: the same app's token used from a Hetzner server and from a home line (a new
  provider, a residential network: `new_network` at medium), and from a new block inside the
  very region it rotates through, with the Drift fetcher's user agent (renting in the same
  region hides nothing from `suspicious_client`).

The addresses are real: AWS us-east-1 EC2 ranges from AWS's published ip-ranges.json
(3.80.0.0/12, 44.192.0.0/11, 54.80.0.0/13), Hetzner's 95.216.0.0/16, Comcast's 73.0.0.0/8.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ingest.sfid import to18

from ..model import Org, unplaced
from .fleet import DAYS, START, Fleet, oauth_login
from .plants import BY_ALIAS, Scenario, at

APP = "Nimbus Relay"
APP_ID15 = "0H45g000000NiMb"
AGENT = "Java/17.0.9"
ORGS_USING = ("alpha", "bravo", "charlie")
REGION_PREFIXES = ("3.8{n}", "44.20{n}", "54.8{n}")  # inside us-east-1's published EC2 ranges
HETZNER = "95.216.14.20"
HOME_LINE = "73.162.11.20"
IN_REGION_THIEF = "54.87.201.9"


def config_lines() -> list[str]:
    """The app's `[apps]` entry: watched, with no allowlist (there is nothing to list yet)."""
    return [f'[apps."{APP}"]', "# no allowlist: its workers have no NAT yet", ""]


def block_address(day: int, worker: int) -> str:
    """Day `day`'s address of worker `worker`: each day a new AWS us-east-1 /24."""
    prefix = REGION_PREFIXES[day % 3].format(n=1 + day % 7)
    return f"{prefix}.{(day * 37) % 250}.{10 + worker}"


def user_of(org: Org) -> str:
    return to18("0055g00000N" + org.alias[:4].capitalize())


def refresh(fleet: Fleet, org: Org, when: datetime, ip: str, agent: str = AGENT) -> None:
    """One refresh of the app's token, as Salesforce logs it; in an org that sends event log
    files, the session's first API call too (its RestApi row names the app)."""
    user, key = user_of(org), fleet.login_key()
    fleet.world.logins.append(
        oauth_login(org, when, user, unplaced(ip), app=APP, agent=agent, login_key=key)
    )
    if org.evidence == "elf":
        fleet.api(org, when + timedelta(seconds=3), user, ip, key, agent, app=APP,
                  app_id15=APP_ID15, entity="Opportunity", rows=40)  # fmt: skip


def rotation(s: Scenario) -> None:
    """Every three hours, every org, from that day's block (two workers take turns)."""
    addresses: set[str] = set()
    for day in range(DAYS):
        moments = [START + timedelta(days=day, hours=h, minutes=40) for h in range(1, 24, 3)]
        today = {block_address(day, n % 2) for n in range(len(moments))}
        addresses |= today

        def act(fleet: Fleet, day: int = day, moments: list[datetime] = moments) -> None:
            for n, moment in enumerate(moments):
                for offset, alias in enumerate(ORGS_USING):
                    refresh(fleet, BY_ALIAS[alias], moment + timedelta(seconds=9 * offset),
                            block_address(day, n % 2))  # fmt: skip

        s.plant(moments[0], act)
    s.trap(
        "a no-NAT partner's workers on a new AWS us-east-1 block every day",
        None,
        addresses,
        START,
        at(DAYS, 0),
    )


def elsewhere(s: Scenario, alias: str, when: datetime, ip: str, what: str) -> None:
    """The app's token refreshed from a network outside its region: three uses in an hour."""
    org = BY_ALIAS[alias]

    def act(fleet: Fleet) -> None:
        for n in range(3):
            refresh(fleet, org, when + timedelta(minutes=20 * n), ip)  # the thief mimics it

    s.plant(when, act)
    s.expect(f"{APP} used from {what}", "stolen refresh token", "new_network", "medium", alias,
             {ip}, when, when + timedelta(hours=1))  # fmt: skip


def rented_in_region(s: Scenario, alias: str, when: datetime) -> None:
    """A thief on a fresh EC2 instance in the same region, with the Drift fetcher's agent."""
    org = BY_ALIAS[alias]

    def act(fleet: Fleet) -> None:
        refresh(fleet, org, when, IN_REGION_THIEF, "Salesforce-Multi-Org-Fetcher/1.0")

    s.plant(when, act)
    s.expect(f"{APP} token used from its own cloud region with Drift tooling",
             "UNC6395 tooling (user agent)", "suspicious_client", "critical", alias,
             {IN_REGION_THIEF}, when, when + timedelta(minutes=1))  # fmt: skip


def stories(s: Scenario) -> None:
    """The no-NAT partner's month: the rotation, and its token used where it never is."""
    rotation(s)
    elsewhere(s, "alpha", at(20, 4, 10), HETZNER, "a Hetzner server")
    elsewhere(s, "bravo", at(22, 2, 50), HOME_LINE, "a residential line")
    rented_in_region(s, "charlie", at(24, 3, 25))
