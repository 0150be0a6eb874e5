"""Routine traffic: what the demo world does when nobody attacks it.

The partner's integration user in every subscriber org refreshes its Acme Sync token every 15–60
minutes from the partner's NAT gateways in us-east-1 and eu-west-1, with Refresh Token Rotation
(each refresh returns a new fingerprint), and syncs a little data each time; once a day a Bulk
API 2.0 job. People log in from their offices on weekdays, from home now and then, keep the
Salesforce mobile app refreshing on their phones, and Zenith CPQ refreshes as the person who
installed it. Planted stories hook into an integration chain through `Interjection`s: a thief
who spends the current token, a race between two workers, a new region.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ..model import (  # fmt: skip
    INVALID_TOKEN,
    ApiCall,
    BulkJob,
    Login,
    Logout,
    PartnerCall,
    World,
    app_login,
    fingerprint,
    stable_id,
)
from . import cast
from .cast import Org, Person, Place

WORKERS = {
    cast.EGRESS_US: "sync-worker-us-east-1",
    cast.EGRESS_US_B: "sync-worker-us-east-1",
    cast.EGRESS_US_V6: "sync-worker-us-east-1",
    cast.EGRESS_EU: "sync-worker-eu-west-1",
    cast.EGRESS_NEW_REGION: "sync-worker-ap-southeast-1",
}
SYNC_ENTITIES = ("Account", "Contact", "Opportunity")


def person_login(org: Org, person: Person, at: datetime, place: Place, app: str, app_id: str,
                 agent: str, **extra: object) -> Login:  # fmt: skip
    """An app's OAuth login as `person` (a refresh unless `sub_type` says otherwise)."""
    return app_login(org, at, person.user_id, org.username(person.alias), place, app, app_id,
                     agent, **extra)  # fmt: skip


def chain_login(chain: Chain, at: datetime, place: Place, *, agent: str = cast.INTEGRATION_AGENT,
                **extra: object) -> Login:  # fmt: skip
    """The partner app's OAuth login as the chain's integration user."""
    return app_login(chain.org, at, chain.user_id, chain.username, place, cast.PARTNER_APP,
                     cast.PARTNER_APP_ID, agent, **extra)  # fmt: skip


def chain_call(chain: Chain, at: datetime, presented: str | None, returned: str | None,
               place: Place, worker: str, **extra: object) -> PartnerCall:  # fmt: skip
    """A refresh the partner's worker sent for the chain: its token-log line."""
    return PartnerCall(chain.org, at, chain.user_id, "refresh_token", presented, returned, place,
                       worker, **extra)  # type: ignore[arg-type]  # fmt: skip


def session_call(
    login: Login, at: datetime, entity: str, resource: str, **extra: object
) -> ApiCall:
    """A REST call the partner app made in `login`'s session."""
    return ApiCall(login.org, at, login.user_id, login.username, login.place, cast.PARTNER_APP,
                   cast.PARTNER_APP_ID, "REST", resource, entity, **extra)  # type: ignore[arg-type]  # fmt: skip


@dataclass
class Chain:
    """One integration user's refresh-token family as the partner's workers hold it."""

    org: Org
    user_id: str
    username: str
    family: int = 0
    generation: int = 0
    revoked: bool = False  # Salesforce revoked the family; the next refresh is refused
    egress: tuple[Place, ...] = cast.EGRESS
    story: str | None = None  # the story whose consequence the next records are
    resume_at: datetime | None = None  # a story holds the routine until then
    egress_story: str | None = None  # the story of refreshes from egress outside cast.EGRESS

    @property
    def current(self) -> str:
        return fingerprint(self.org.org_id, self.user_id, self.family, self.generation)

    def rotate(self) -> tuple[str, str]:
        presented = self.current
        self.generation += 1
        return presented, self.current


Interjection = tuple[datetime, Callable[[Chain, World, random.Random, datetime], None]]
"""(when, what): `what(chain, world, rng, when)` runs once, before the first routine refresh at
or after `when`; it may hold the routine back with `chain.resume_at`."""


@dataclass
class Plan:
    """Per org alias, what the stories do to its integration chain."""

    interjections: dict[str, list[Interjection]] = field(default_factory=dict)

    def at(self, alias: str, when: datetime, action: Callable) -> None:
        self.interjections.setdefault(alias, []).append((when, action))


def worker(place: Place, rng: random.Random) -> str:
    return f"{WORKERS.get(place, 'sync-worker')}-{rng.randint(1, 3)}"


def integration(world: World, org: Org, plan: Plan, rng: random.Random) -> Chain:
    assert org.integration_user
    chain = Chain(org, org.integration_user, org.username("integration"))
    token = world.token(
        org,
        cast.PARTNER_APP,
        cast.PARTNER_APP_ID,
        chain.user_id,
        chain.username,
        world.start - timedelta(days=61),
        in_use=True,
    )
    pending = sorted(plan.interjections.get(org.alias, []), key=lambda item: item[0])
    at = world.start + timedelta(minutes=rng.randint(0, 30), seconds=rng.randint(0, 59))
    while at < world.end:
        while pending and pending[0][0] <= at:
            when, action = pending.pop(0)
            action(chain, world, rng, when)
            at = max(at, chain.resume_at or at)
        place = rng.choice(chain.egress)
        if chain.revoked:
            _refused(world, chain, at, place, rng)
            at += timedelta(minutes=rng.randint(35, 80))
            reauthorize(world, chain, at, rng.choice(cast.EGRESS[:3]), rng)
            token.uses.append(at)
        else:
            story = chain.egress_story if place not in cast.EGRESS else None
            login = refresh(world, chain, at, place, rng, story=story)
            token.uses.append(at)
            if org.event_monitoring:
                _sync_calls(world, login, rng)
        at += timedelta(minutes=rng.randint(15, 60), seconds=rng.randint(0, 59))
    return chain


def refresh(world: World, chain: Chain, at: datetime, place: Place, rng: random.Random,
            *, story: str | None = None) -> Login:  # fmt: skip
    """A successful rotation: the partner's log line and Salesforce's login row."""
    presented, returned = chain.rotate()
    sent = at - timedelta(milliseconds=rng.randint(80, 400))
    world.partner_calls.append(
        chain_call(
            chain, sent, presented, returned, place, worker(place, rng), story=story or chain.story
        )
    )
    login = chain_login(chain, at, place, story=story or chain.story)
    world.logins.append(login)
    return login


def _refused(world: World, chain: Chain, at: datetime, place: Place, rng: random.Random) -> None:
    """The worker presents its newest token after Salesforce revoked the family."""
    sent = at - timedelta(milliseconds=rng.randint(80, 400))
    partner = (sent, chain.current, worker(place, rng), "expired access/refresh token")
    refusal(world, chain, partner, at, place, INVALID_TOKEN, chain.story)


def refusal(world: World, chain: Chain, partner: tuple[datetime, str | None, str, str],
            at: datetime, place: Place, status: str, story: str | None) -> None:  # fmt: skip
    """A refresh that returns no token: the partner's line (`partner`: when sent, the token
    presented, the worker, the error it was given) and Salesforce's failed login at `at`."""
    sent, token, by, error = partner
    world.partner_calls.append(
        chain_call(
            chain,
            sent,
            token,
            None,
            place,
            by,
            outcome="invalid_grant",
            error_description=error,
            story=story,
        )
    )
    world.logins.append(chain_login(chain, at, place, status=status, story=story))


def reauthorize(world: World, chain: Chain, at: datetime, place: Place, rng: random.Random) -> None:
    """The partner's on-call re-connects the app: a new authorization code, with PKCE."""
    chain.family += 1
    chain.generation = 0
    chain.revoked = False
    world.partner_calls.append(
        PartnerCall(
            chain.org,
            at - timedelta(milliseconds=250),
            chain.user_id,
            "authorization_code",
            None,
            chain.current,
            place,
            worker(place, rng),
            pkce=True,
            story=chain.story,
        )
    )
    world.logins.append(
        chain_login(chain, at, place, sub_type="OAuth Web Server", story=chain.story)
    )
    chain.story = None


def _sync_calls(world: World, login: Login, rng: random.Random) -> None:
    login.login_key = stable_id("LK", login.org.alias, login.at.isoformat(), login.user_id)
    for n in range(rng.randint(1, 3)):
        entity = rng.choice(SYNC_ENTITIES)
        world.api_calls.append(
            session_call(
                login,
                login.at + timedelta(seconds=2 + 3 * n),
                entity,
                f"/services/data/v62.0/sobjects/{entity}/updated",
                login_key=login.login_key,
                story=login.story,
            )
        )
    if login.at.hour == 2 and not any(
        job.org is login.org and job.at.date() == login.at.date() for job in world.bulk_jobs
    ):
        world.bulk_jobs.append(
            BulkJob(login.org, login.at + timedelta(seconds=30), login.user_id, login.place,
                    "Account", rng.randint(2_000, 5_000),
                    stable_id("750", login.org.alias, login.at.date()), login_key=login.login_key)
        )  # fmt: skip


def local(org: Org, day: datetime, hour: int, minute: int) -> datetime:
    """`hour:minute` on `day` in the org's time zone, as naive UTC."""
    zone = ZoneInfo(org.time_zone)
    moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
    return moment.astimezone(UTC).replace(tzinfo=None)


def people(world: World, org: Org, rng: random.Random) -> None:
    for person in org.people:
        _phone(world, org, person, rng)
        if org.vendor_app and person is org.people[0]:
            _vendor(world, org, person, rng)
        day = world.start
        while day < world.end:
            if day.weekday() < 5 and rng.random() < 0.9:
                place = person.home if rng.random() < 0.2 else person.office
                at = local(org, day, 8 + rng.randint(0, 2), rng.randint(0, 59))
                if at < world.end:
                    ui_login(world, org, person, at, place, rng)
            day += timedelta(days=1)


def ui_login(world: World, org: Org, person: Person, at: datetime, place: Place,
             rng: random.Random, *, story: str | None = None) -> Login:  # fmt: skip
    login = Login(
        org,
        at,
        person.user_id,
        org.username(person.alias),
        place,
        "Application",
        "UI Username-Password",
        "Browser",
        None,
        cast.BROWSER_AGENT,
        story=story,
    )
    world.logins.append(login)
    if org.event_monitoring:
        login.login_key = stable_id("LK", org.alias, at.isoformat(), person.user_id)
        world.logouts.append(
            Logout(
                org,
                at + timedelta(hours=rng.randint(2, 8)),
                person.user_id,
                place,
                login.login_key,
                "U",
            )
        )
    return login


def _phone(world: World, org: Org, person: Person, rng: random.Random) -> None:
    """The Salesforce mobile app refreshes its token a few times a day on the carrier network."""
    app = (cast.MOBILE_APP, cast.MOBILE_APP_ID, cast.MOBILE_AGENT)
    created = world.start - timedelta(days=95)
    first = timedelta(hours=rng.randint(6, 20))
    _app_refreshes(world, org, person, app, person.phone, created, first, (5, 14), rng)


def _vendor(world: World, org: Org, person: Person, rng: random.Random) -> None:
    """Zenith CPQ's connector refreshes as the person who installed it, from Zenith's cloud."""
    app = (cast.VENDOR_APP, cast.VENDOR_APP_ID, cast.VENDOR_AGENT)
    created = world.start - timedelta(days=200)
    first = timedelta(minutes=rng.randint(0, 120))
    _app_refreshes(world, org, person, app, cast.VENDOR_EGRESS, created, first, (2, 4), rng)


def _app_refreshes(
    world: World, org: Org, person: Person, app: tuple[str, str, str], place: Place,
    created: datetime, first: timedelta, hours: tuple[int, int], rng: random.Random,
) -> None:  # fmt: skip
    """An app (name, id, user agent) refreshing a person's token from `place` all month, every
    `hours` (a range) and some minutes, the first `first` into the world."""
    name, app_id, _ = app
    username = org.username(person.alias)
    token = world.token(org, name, app_id, person.user_id, username, created, in_use=True)
    at = world.start + first
    while at < world.end:
        world.logins.append(app_login(org, at, person.user_id, username, place, *app))
        token.uses.append(at)
        at += timedelta(hours=rng.randint(*hours), minutes=rng.randint(0, 59))
