"""The benign traps set beside the attacks, and the planted month itself.

The traps are what real partners and people do and what naive detectors call attacks: three
allowlisted regions, racing and retrying workers, country-sized and radius-less fixes, a
flight, phones on carrier networks, a backfill night, Salesforce's own Data Loader, the
integration's own python-requests (the fleet's background).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..model import ApiCall
from . import nonat
from .exfil import exfiltration
from .fleet import EGRESS_IPS, MOBILE_APP, PEOPLE, START, Fleet, place, username
from .plants import BY_ALIAS, NEW_YORK, SYDNEY, Scenario, at

__all__ = ["Month", "phone_addresses", "scenario"]


class Month(Scenario):
    # -- benign traps -------------------------------------------------------------------------

    def race(self, alias: str, when: datetime) -> None:
        """Two workers in two regions refresh one token 150 ms apart: Salesforce honours the
        first, sees the second as reuse and revokes the family; the partner re-authorizes."""
        org = BY_ALIAS[alias]
        first, second = EGRESS_IPS[0], EGRESS_IPS[1]

        def act(fleet: Fleet) -> None:
            chain = fleet.chains[alias]
            token, issued = chain.token, chain.successor()
            fleet.refresh(org, when, first)
            fleet.partner_refused(org, when + timedelta(milliseconds=150), second, token)
            fleet.partner_refused(org, when + timedelta(minutes=5), first, issued)
            fleet.reauthorize(org, when + timedelta(minutes=7), first)

        self.plant(when + timedelta(minutes=7), act)
        self.trap(
            "the partner's own workers racing across two regions",
            alias,
            {first, second},
            when,
            when + timedelta(minutes=8),
        )

    def retry_after_5xx(self, alias: str, when: datetime) -> None:
        org = BY_ALIAS[alias]
        ip = EGRESS_IPS[2]

        def act(fleet: Fleet) -> None:
            chain = fleet.chains[alias]
            fleet.partner_refused(
                org, when, ip, chain.token, outcome="error", error="HTTP 503 Service Unavailable"
            )
            fleet.refresh(org, when + timedelta(seconds=30), ip)

        self.plant(when + timedelta(seconds=30), act)
        self.trap("a worker retrying after a 503", alias, {ip}, when, when + timedelta(minutes=1))

    def retry_after_timeout(self, alias: str, when: datetime) -> None:
        """The first call reached Salesforce (which rotated the token) but timed out on the
        way back; the retry presents the same token and fails as a reuse of its own making."""
        org = BY_ALIAS[alias]
        ip = EGRESS_IPS[0]

        def act(fleet: Fleet) -> None:
            chain = fleet.chains[alias]
            token = chain.token
            fleet.refresh(org, when, ip)
            timed_out = fleet.world.partner_calls[-1]  # the worker saw a timeout
            timed_out.outcome, timed_out.error_description = "error", "Read timed out"
            timed_out.new_token_fp = None
            fleet.partner_refused(org, when + timedelta(seconds=20), ip, token)
            fleet.salesforce_refused(org, when + timedelta(seconds=20, milliseconds=200), ip)
            fleet.reauthorize(org, when + timedelta(minutes=2), ip)

        self.plant(when + timedelta(minutes=2), act)
        self.trap(
            "a worker retrying after a timeout whose first call got through",
            alias,
            {ip},
            when,
            when + timedelta(minutes=3),
        )

    def coarse_fixes(self, api_alias: str, when: datetime) -> None:
        """A phone's browser login placed at the country's centroid, and a login Salesforce
        places at a city for an address no database knows, next to office logins."""
        org, person = BY_ALIAS[api_alias], PEOPLE[api_alias][0]
        centroid = ("US", None, 37.751, -97.822)
        chicago = ("US", "Chicago", 41.88, -87.63)

        def act(fleet: Fleet) -> None:
            fleet.office_login(
                org,
                person,
                when - timedelta(minutes=20),
                place("198.51.100.30", *chicago),
                sso=False,
            )
            fleet.office_login(org, person, when - timedelta(minutes=10))
            fleet.office_login(org, person, when, place("107.77.9.9", *centroid), sso=False)

        self.plant(when, act)
        self.trap(
            "country-centroid and radius-less fixes next to an office login",
            api_alias,
            {"198.51.100.30", "107.77.9.9", person.office.ip},
            when - timedelta(minutes=20),
            when,
        )

    def flight(self, alias: str, depart: datetime) -> None:
        org, person = BY_ALIAS[alias], PEOPLE[alias][0]
        arrive = depart + timedelta(hours=9)

        def act(fleet: Fleet) -> None:
            fleet.office_login(org, person, depart)
            fleet.office_login(org, person, arrive, place("72.229.28.185", *NEW_YORK))

        self.plant(arrive, act)
        self.trap(
            "a flight to New York", alias, {person.office.ip, "72.229.28.185"}, depart, arrive
        )

    def backfill_night(self, alias: str, night: datetime) -> None:
        org = BY_ALIAS[alias]
        ip = EGRESS_IPS[0]

        def act(fleet: Fleet) -> None:
            fleet.api_burst(org, night, 300, timedelta(seconds=36), ip, "python-requests/2.31.0",
                            "Contact", 2000)  # fmt: skip

        self.plant(night, act)
        self.trap(
            "the integration's backfill night", alias, {ip}, night, night + timedelta(hours=3)
        )

    def data_loader(self, alias: str, when: datetime) -> None:
        org, person = BY_ALIAS[alias], PEOPLE[alias][0]

        def act(fleet: Fleet) -> None:
            for n, app in enumerate(("Dataloader Partner", "Dataloader Bulk")):
                user = person.user_id
                fleet.world.api_calls.append(
                    ApiCall(org, when + timedelta(minutes=n), user, username(org, user),
                            person.office, app, "0H45g000000DlDr", "REST", "/v62.0/query",
                            "Account", agent="DataLoaderBulkUI/64.0.2")
                )  # fmt: skip

        self.plant(when, act)
        self.trap(
            "Salesforce's own Data Loader",
            alias,
            {person.office.ip},
            when,
            when + timedelta(minutes=1),
        )


def scenario() -> Month:
    """The planted month (days count from 1 November 2026, UTC)."""
    s = Month()
    # Theft seen only where the logs carry no app name (echo exports event log files).
    s.theft(
        "stolen token used from a VPS, Login ELF without app",
        "echo",
        at(19, 3, 5),
        "45.83.1.10",
        agent="python-requests/2.32.4",
    )
    # A wave: the same app's tokens used from new networks in three orgs within six hours.
    for alias, hour, ip in (
        ("charlie", 2, "89.44.9.10"),
        ("delta", 5, "89.44.10.10"),
        ("bravo", 8, "89.44.11.10"),
    ):
        s.theft(
            f"vendor-compromise wave: {alias}",
            alias,
            at(25, hour, 5),
            ip,
            agent="python-requests/2.32.4",
        )
    wave = {"89.44.9.10", "89.44.10.10", "89.44.11.10"}
    s.expect(
        "vendor-compromise wave across three orgs",
        "vendor compromise (cross-org)",
        "cross_org",
        "critical",
        None,
        wave,
        at(25, 2),
        at(25, 9),
    )
    # A thief inside the partner's own egress range: only the partner's log betrays it.
    s.theft(
        "thief inside the allowlist, chain-intact rejection",
        "bravo",
        at(17, 10, 5),
        "203.0.113.9",
        agent="Java/17.0.9",
        critical_rejection=False,
    )
    s.theft(
        "refresh from a published Tor exit",
        "bravo",
        at(11, 2, 5),
        "185.220.101.33",
        agent="python-requests/2.32.4",
    )
    s.expect(
        "refresh from a published Tor exit",
        "published IOC address (Tor exit)",
        "suspicious_client",
        "critical",
        "bravo",
        {"185.220.101.33"},
        at(11, 2),
        at(11, 3),
    )
    s.drift_tooling("delta", at(22, 4, 10), "52.95.110.1")
    s.lookalike("alpha", at(16, 13, 10))
    s.dormant("bravo", datetime(2026, 9, 10, 9, 15), at(23, 3, 10), "64.227.0.1")
    s.travel(
        "SAML sign-on in New York, browser login in Sydney an hour later",
        "alpha",
        at(14, 9),
        at(14, 10),
        "49.255.14.1",
        SYDNEY,
        sso_first=True,
    )
    s.travel(
        "browser logins in Rotherham and Odesa 50 minutes apart (ELF)",
        "charlie",
        at(10, 8, 45),
        at(10, 9, 35),
        "79.140.0.1",
        None,
        sso_first=False,
    )
    # Benign.
    s.race("bravo", at(7, 10, 5))
    s.retry_after_5xx("charlie", at(8, 14, 5))
    s.retry_after_timeout("alpha", at(9, 14, 5))
    s.coarse_fixes("bravo", at(4, 11, 0))
    s.coarse_fixes("alpha", at(5, 11, 0))
    s.flight("charlie", at(3, 7, 0))
    s.backfill_night("delta", at(20, 1, 0))
    s.data_loader("charlie", at(12, 11, 0))
    s.trap("three allowlisted regions taking turns", None, set(EGRESS_IPS), START, at(28, 0))
    nonat.stories(s)  # a second vendor's app without NAT, rotating through AWS us-east-1
    exfiltration(s)  # data theft beside the partner's nightly exports (exfil.py)
    return s


def phone_addresses(fleet: Fleet) -> set[str]:
    return {login.place.ip for login in fleet.world.logins if login.app == MOBILE_APP}
