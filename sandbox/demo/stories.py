"""The planted stories: each documented in data/demo_stories.toml under the same id.

Times are relative to the world's end (the end of the reference day), so the same reference
date always gives the same records and the same alert ids.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from ..model import (  # fmt: skip
    BLOCKED_IP,
    INVALID_TOKEN,
    ApiCall,
    BulkJob,
    Login,
    World,
    fingerprint,
    stable_id,
)
from . import cast
from .cast import BY_ALIAS, Org, Person, Place
from .routine import (
    Chain,
    Plan,
    chain_call,
    chain_login,
    local,
    person_login,
    reauthorize,
    refresh,
    refusal,
    session_call,
    ui_login,
)

RECON_ENTITIES = ("Account", "Contact", "User", "Opportunity", "Case", "Lead")


def plan(world: World) -> Plan:
    """The stories that act on routine integration chains, registered before traffic runs."""
    the_plan = Plan()
    wave = world.end - timedelta(days=2) + timedelta(hours=3, minutes=12)
    the_plan.at("northwind", wave, _theft(world, "drift-wave", cast.DIGITALOCEAN_VPS, True))
    the_plan.at("globex", wave + timedelta(minutes=41),
                _theft(world, "drift-wave", cast.TOR_EXIT, False))  # fmt: skip
    the_plan.at("hooli", wave + timedelta(hours=1, minutes=5),
                _theft(world, "drift-wave", cast.DIGITALOCEAN_VPS, True))  # fmt: skip
    the_plan.at("globex", world.end - timedelta(days=9, hours=-14), _race)
    the_plan.at("globex", world.end - timedelta(days=16, hours=-7), _retry)
    the_plan.at("wayne", world.end - timedelta(days=4, hours=-4), _replay)
    the_plan.at("stark", world.end - timedelta(days=10, hours=-21), _chain_intact)
    the_plan.at("stark", world.end - timedelta(days=19, hours=-10), _reauthorize)
    the_plan.at("initech", world.end - timedelta(days=13), _new_region)
    the_plan.at("initech", world.end - timedelta(days=6, hours=-9), _region_rolled_back)
    return the_plan


def _theft(world: World, story: str, place: Place, enforcement_off: bool):
    """Drift-style: the integration's stolen token refreshed from attacker infrastructure."""

    def act(chain: Chain, world: World, rng: random.Random, when: datetime) -> None:
        org = chain.org
        for wave in range(5):
            at = when + timedelta(minutes=wave * 6, seconds=rng.randint(0, 50))
            login = Login(org, at, chain.user_id, chain.username, place, "Remote Access 2.0",
                          "OAuth Refresh Token", cast.PARTNER_APP, cast.PARTNER_APP_ID,
                          cast.ATTACKER_AGENT, status="Success" if enforcement_off else BLOCKED_IP,
                          story=story)  # fmt: skip
            world.logins.append(login)
            if enforcement_off and org.event_monitoring:
                _recon(world, login, rng, story, bulk=wave == 4)
        if enforcement_off:  # the thief spent the partner's newest token: the family is revoked
            chain.revoked, chain.story = True, story
        chain.resume_at = when + timedelta(minutes=31)

    return act


def _recon(world: World, login: Login, rng: random.Random, story: str, *, bulk: bool) -> None:
    """SELECT COUNT() over the valuable objects, then a Bulk API 2.0 export of Contacts."""
    login.login_key = stable_id("LK", login.org.alias, login.at.isoformat(), "thief")
    for n, entity in enumerate(RECON_ENTITIES):
        world.api_calls.append(
            session_call(
                login,
                login.at + timedelta(seconds=4 + n),
                entity,
                "/services/data/v62.0/query",
                login_key=login.login_key,
                story=story,
            )
        )
    if bulk:
        world.api_calls.append(
            ApiCall(
                login.org,
                login.at + timedelta(seconds=20),
                login.user_id,
                login.username,
                login.place,
                cast.PARTNER_APP,
                cast.PARTNER_APP_ID,
                "Bulk2",
                "/services/data/v62.0/jobs/query",
                "Contact",
                method="POST",
                login_key=login.login_key,
                story=story,
            )
        )
        world.bulk_jobs.append(
            BulkJob(
                login.org,
                login.at + timedelta(minutes=6),
                login.user_id,
                login.place,
                "Contact",
                rng.randint(150_000, 190_000),
                stable_id("750", login.org.alias, "exfil"),
                login_key=login.login_key,
                story=story,
            )
        )


def _race(chain: Chain, world: World, rng: random.Random, at: datetime) -> None:
    """Two us-east workers refresh the same token 140 ms apart behind one NAT gateway."""
    presented = chain.current
    refresh(world, chain, at, cast.EGRESS_US, rng, story="rtr-race")
    partner = (at + timedelta(milliseconds=140), presented, "sync-worker-us-east-1-2",
               "token reuse detected")  # fmt: skip
    refusal(world, chain, partner, at + timedelta(seconds=1), cast.EGRESS_US, INVALID_TOKEN,
            "rtr-race")  # fmt: skip
    chain.revoked, chain.story = True, "rtr-race"
    chain.resume_at = at + timedelta(minutes=25)


def _retry(chain: Chain, world: World, rng: random.Random, at: datetime) -> None:
    """A 503 from the token endpoint; the worker backs off and retries the same token once."""
    world.partner_calls.append(
        chain_call(
            chain,
            at,
            chain.current,
            None,
            cast.EGRESS_EU,
            "sync-worker-eu-west-1-1",
            outcome="error",
            error_description="HTTP 503 Service Unavailable",
            story="worker-retry",
        )
    )
    refresh(world, chain, at + timedelta(seconds=8), cast.EGRESS_EU, rng, story="worker-retry")
    chain.resume_at = at + timedelta(minutes=20)


def _replay(chain: Chain, world: World, rng: random.Random, at: datetime) -> None:
    """A copy of a retired worker's image, token cache included, runs from a VPS in Prague."""
    stale = fingerprint(chain.org.org_id, chain.user_id, chain.family, chain.generation - 6)
    partner = (at, stale, "sync-worker-us-east-1-legacy", "ip restricted or invalid login hours")
    refusal(world, chain, partner, at + timedelta(milliseconds=300), cast.PRAGUE_VPS, BLOCKED_IP,
            "stolen-token-replay")  # fmt: skip


def _chain_intact(chain: Chain, world: World, rng: random.Random, at: datetime) -> None:
    """The newest token, copied from the partner's secret store, spent once from Lithuania."""
    world.logins.append(
        chain_login(
            chain, at, cast.LITHUANIA_VPS, agent="Java/17.0.9", story="chain-intact-rejection"
        )
    )
    chain.revoked, chain.story = True, "chain-intact-rejection"
    chain.resume_at = at + timedelta(minutes=30)


def _reauthorize(chain: Chain, world: World, rng: random.Random, at: datetime) -> None:
    """Stark's admin re-connects Acme Sync after a permission change: a new chain, with PKCE."""
    chain.story = "reauthorization"
    reauthorize(world, chain, at, cast.EGRESS_EU, rng)
    chain.resume_at = at + timedelta(minutes=20)


def _new_region(chain: Chain, world: World, rng: random.Random, at: datetime) -> None:
    """The partner starts ap-southeast-1 workers; nobody adds its NAT to the allowlist."""
    chain.egress = (*cast.EGRESS, cast.EGRESS_NEW_REGION, cast.EGRESS_NEW_REGION)
    chain.egress_story = "new-partner-egress"


def _region_rolled_back(chain: Chain, world: World, rng: random.Random, at: datetime) -> None:
    """A week later the partner moves those workers back to us-east-1 (a cost decision)."""
    chain.egress = cast.EGRESS


def standalone(world: World, rng: random.Random) -> None:
    """Stories that are not part of a routine chain."""
    _dormant(world, rng)
    _idle_heartbeat(world, rng)
    _impossible_jump(world, rng)
    _lookalike(world, rng)
    _travel(world, rng)
    _coarse_vpn(world, rng)


def _side_chain(world: World, org: Org, user: str, created: datetime) -> Chain:
    chain = Chain(org, org.extra_users[user], org.username(user))
    world.token(org, cast.PARTNER_APP, cast.PARTNER_APP_ID, chain.user_id, chain.username, created)
    return chain


def _dormant(world: World, rng: random.Random) -> None:
    """Wayne's archive export, switched off on D-43, refreshes again on D-2."""
    org = BY_ALIAS["wayne"]
    chain = _side_chain(world, org, "archive", world.end - timedelta(days=120))
    token = world.tokens[(org.org_id, cast.PARTNER_APP, chain.user_id)]
    for days, story in ((44, None), (3, "dormant-token-revived")):
        at = world.end - timedelta(days=days, hours=-11, minutes=-7)
        refresh(world, chain, at, cast.EGRESS_EU, rng, story=story)
        token.uses.append(at)


def _idle_heartbeat(world: World, rng: random.Random) -> None:
    """Stark's monthly report job last refreshed 26 days ago: 4 days left before the timeout."""
    org = BY_ALIAS["stark"]
    chain = _side_chain(world, org, "reports", world.end - timedelta(days=70))
    token = world.tokens[(org.org_id, cast.PARTNER_APP, chain.user_id)]
    at = world.end - timedelta(days=26, hours=-6)
    refresh(world, chain, at, cast.EGRESS_US, rng, story="token-near-idle-limit")
    token.uses.append(at)


def _impossible_jump(world: World, rng: random.Random) -> None:
    """eve.kim logs in at her Palo Alto office; 45 minutes later 'she' logs in from London."""
    eve = BY_ALIAS["initech"].people[0]
    _two_places(world, rng, "initech", eve, (4, 16, 40), timedelta(minutes=45),
                cast.OFFICE_LONDON, "impossible-jump")  # fmt: skip


def _two_places(
    world: World, rng: random.Random, alias: str, person: Person, when: tuple[int, int, int],
    gap: timedelta, second: Place, story: str,
) -> None:  # fmt: skip
    """`person` logs in at the office (`when`: days before the end, local hour and minute),
    then again `gap` later from `second`."""
    org = BY_ALIAS[alias]
    days, hour, minute = when
    at = local(org, world.end - timedelta(days=days), hour, minute)
    ui_login(world, org, person, at, person.office, rng, story=story)
    ui_login(world, org, person, at + gap, second, rng, story=story)


def _lookalike(world: World, rng: random.Random) -> None:
    """Vishing: kim.lund approves a renamed Data Loader; its owner exports from a VPN."""
    org = BY_ALIAS["wayne"]
    kim = org.people[1]
    at = world.end - timedelta(days=8, hours=-15, minutes=-20)
    world.token(org, cast.LOOKALIKE_APP, cast.LOOKALIKE_APP_ID, kim.user_id,
                org.username(kim.alias), at)  # fmt: skip
    world.logins.append(
        person_login(
            org,
            kim,
            at,
            kim.office,
            cast.LOOKALIKE_APP,
            cast.LOOKALIKE_APP_ID,
            cast.BROWSER_AGENT,
            sub_type="OAuth Web Server",
            story="lookalike-data-loader",
        )
    )
    for n in range(4):
        when = at + timedelta(minutes=20 + 9 * n)
        world.logins.append(
            person_login(
                org,
                kim,
                when,
                cast.AMSTERDAM_VPN,
                cast.LOOKALIKE_APP,
                cast.LOOKALIKE_APP_ID,
                "Java/11.0.2",
                story="lookalike-data-loader",
            )
        )
        world.tokens[(org.org_id, cast.LOOKALIKE_APP, kim.user_id)].uses.append(when)


def _travel(world: World, rng: random.Random) -> None:
    """ana.silva flies from New Jersey to Stockholm overnight: far, but a plane allows it."""
    ana = BY_ALIAS["northwind"].people[0]
    _two_places(world, rng, "northwind", ana, (12, 15, 5), timedelta(hours=11), ana.home,
                "business-travel")  # fmt: skip


def _coarse_vpn(world: World, rng: random.Random) -> None:
    """frank.oh turns on a consumer VPN that GeoLite2 only places at the US centroid."""
    frank = BY_ALIAS["initech"].people[1]
    _two_places(world, rng, "initech", frank, (10, 9, 10), timedelta(minutes=25),
                cast.VPN_US_CENTROID, "coarse-geolocation")  # fmt: skip


def partner_org(world: World, rng: random.Random) -> None:
    """The partner's admin exports with Salesforce's genuine Data Loader every Monday."""
    org = BY_ALIAS["acme-partner"]
    priya = org.people[0]
    day = world.start
    while day < world.end:
        if day.weekday() == 0:
            at = local(org, day, 11, 30)
            world.logins.append(
                person_login(
                    org,
                    priya,
                    at,
                    priya.office,
                    cast.DATA_LOADER,
                    cast.DATA_LOADER_ID,
                    "Dataloader/62.0.0 Java/17.0.9",
                    sub_type="OAuth Web Server",
                    story="genuine-data-loader",
                )
            )
        day += timedelta(days=1)
