"""The attacks planted in the fleet's month, and the benign traps set beside them.

Attacks follow THREATS.md: stolen partner tokens used from hosting and Tor (seen in orgs whose
logs carry no app name, and as a wave across orgs within a day), the Drift tooling, a
look-alike Data Loader, a dormant token woken, impossible travel through SSO and the browser,
and the partner-side signature of theft: its newest token refused although its chain was
intact. Each theft uses the org's live chain, so the partner's next refresh is refused exactly
as Salesforce's rotation would refuse it.

The benign traps and the month that combines both are in `traps.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from ingest.sfid import to18

from ..model import BulkJob, unplaced
from ..salesforce import stable_id
from .fleet import (
    BY_ALIAS,
    EGRESS,
    EGRESS_IPS,
    PEOPLE,
    START,
    Fleet,
    Plant,
    located,
    oauth_login,
    place,
)
from .model import Benign, Planted

SECOND_NAT = "203.0.113.6"  # where the partner's rejected calls and re-authorizations egress
SYDNEY = ("AU", "Sydney", -33.8688, 151.2093)
NEW_YORK = ("US", "New York", 40.73, -73.98)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return START + timedelta(days=day, hours=hour, minutes=minute)


class Scenario:
    """Collects plants (callbacks run inside the month) with what each must or must not raise."""

    def __init__(self) -> None:
        self.plants: list[Plant] = []
        self.attacks: list[Planted] = []
        self.benign: list[Benign] = []

    def plant(self, when: datetime, action: Callable[[Fleet], None]) -> None:
        self.plants.append((when, action))

    def expect(
        self,
        label: str,
        threat: str,
        detector: str,
        severity: str,
        org: str | None,
        ips: set[str],
        start: datetime,
        end: datetime,
    ) -> None:
        org_id = BY_ALIAS[org].org_id if org else None
        self.attacks.append(
            Planted(label, threat, detector, severity, org_id, frozenset(ips), start, end)
        )

    def trap(
        self, label: str, org: str | None, ips: set[str], start: datetime, end: datetime
    ) -> None:
        org_id = BY_ALIAS[org].org_id if org else None
        self.benign.append(Benign(label, org_id, frozenset(ips), start, end))

    # -- attacks ----------------------------------------------------------------------------

    def theft(
        self,
        label: str,
        alias: str,
        start: datetime,
        ip: str,
        *,
        agent: str,
        critical_rejection: bool = True,
    ) -> None:
        """A copy of the integration's current refresh token used by someone else: four
        refreshes and a bulk export, then the partner's next refresh is refused."""
        org = BY_ALIAS[alias]

        def act(fleet: Fleet) -> None:
            chain = fleet.chains[alias]
            stolen = chain.token
            user = org.integration_user or ""
            for n in range(4):
                moment = start + timedelta(minutes=6 * n)
                key = fleet.login_key()
                fleet.world.logins.append(
                    oauth_login(org, moment, user, unplaced(ip), agent=agent, login_key=key)
                )
                chain.generation += 1  # the thief now holds the newest token
                if n == 1 and org.evidence == "elf":
                    fleet.api(
                        org,
                        moment + timedelta(seconds=5),
                        user,
                        ip,
                        key,
                        agent,
                        entity="Contact",
                        rows=1,
                    )
                    job_at = moment + timedelta(seconds=40)
                    fleet.world.bulk_jobs.append(
                        BulkJob(org, job_at, user, unplaced(ip), "Contact", 48000,
                                stable_id("7505g", org.alias, job_at), login_key=key)
                    )  # fmt: skip
            refused = start + timedelta(minutes=20)
            fleet.partner_refused(org, refused, SECOND_NAT, stolen)
            fleet.salesforce_refused(org, refused + timedelta(milliseconds=200), SECOND_NAT)
            fleet.reauthorize(org, start + timedelta(minutes=22), SECOND_NAT)

        self.plant(start + timedelta(minutes=22), act)
        end = start + timedelta(minutes=23)
        self.expect(
            label,
            "stolen partner refresh token (Drift/Gainsight pattern)",
            "chain_rejection",
            "critical" if critical_rejection else "high",
            alias,
            {ip, SECOND_NAT},
            start,
            end,
        )
        if org.evidence == "elf":  # its API logs show the 48 000 Contacts the thief took
            self.expect(label, "data theft with a stolen token", "data_exfiltration",
                        "critical", alias, {ip}, start, end)  # fmt: skip
        if ip not in EGRESS and not ip.startswith("203.0.113."):
            self.expect(
                label,
                "stolen partner refresh token (Drift/Gainsight pattern)",
                "off_allowlist_ip",
                "high",
                alias,
                {ip},
                start,
                end,
            )

    def drift_tooling(self, alias: str, when: datetime, ip: str) -> None:
        org = BY_ALIAS[alias]

        def act(fleet: Fleet) -> None:
            fleet.api_burst(org, when, 6, timedelta(minutes=1), ip,
                            "Salesforce-Multi-Org-Fetcher/1.0", "Case", 10000)  # fmt: skip

        self.plant(when, act)
        self.expect(
            "Drift fetcher user agent on the API",
            "UNC6395 tooling (user agent)",
            "suspicious_client",
            "critical",
            alias,
            {ip},
            when,
            when + timedelta(minutes=6),
        )
        self.expect("Drift fetcher exporting 60 000 Cases", "data theft (UNC6395 tooling)",
                    "data_exfiltration", "critical", alias, {ip}, when,
                    when + timedelta(minutes=6))  # fmt: skip

    def lookalike(self, alias: str, when: datetime) -> None:
        org, person = BY_ALIAS[alias], PEOPLE[alias][0]

        def act(fleet: Fleet) -> None:
            fleet.world.logins.append(
                oauth_login(
                    org,
                    when,
                    person.user_id,
                    person.office,
                    app="My Ticket Portal",
                    sub_type="OAuth Device",
                    agent="Mozilla/5.0",
                    login_key=fleet.login_key(),
                )
            )

        self.plant(when, act)
        self.expect(
            "'My Ticket Portal' device-flow approval",
            "UNC6040 look-alike Data Loader",
            "suspicious_client",
            "high",
            alias,
            {person.office.ip},
            when,
            when,
        )

    def dormant(self, alias: str, last: datetime, woken: datetime, ip: str) -> None:
        org, user = BY_ALIAS[alias], to18("0055g00000LegBr")

        def act(fleet: Fleet) -> None:
            for moment, address in ((last, EGRESS_IPS[0]), (woken, ip)):
                fleet.world.logins.append(
                    oauth_login(org, moment, user, located(address), login_key=fleet.login_key())
                )

        self.plant(woken, act)
        self.expect(
            "a token silent since September used from a VPS",
            "dormant token theft",
            "idle_token",
            "high",
            alias,
            {ip},
            woken,
            woken,
        )
        self.expect(
            "a token silent since September used from a VPS",
            "dormant token theft",
            "off_allowlist_ip",
            "high",
            alias,
            {ip},
            woken,
            woken,
        )

    def travel(
        self,
        label: str,
        alias: str,
        first: datetime,
        second: datetime,
        ip: str,
        geo: tuple[str, str | None, float, float] | None,
        *,
        sso_first: bool,
    ) -> None:
        org, person = BY_ALIAS[alias], PEOPLE[alias][0]

        def act(fleet: Fleet) -> None:
            fleet.office_login(org, person, first, sso=sso_first)
            where = place(ip, *geo) if geo else unplaced(ip)
            fleet.office_login(org, person, second, where, sso=False)

        self.plant(second, act)
        self.expect(
            label,
            "stolen session / credentials used far away",
            "impossible_travel",
            "high",
            alias,
            {ip},
            first,
            second,
        )
