"""The demo world: a partner, seven subscriber orgs and their 30 days, stories planted.

`build(as_of)` is a pure function of the reference date and the seed: the same date gives the
same records, so the same alert ids. The stories are documented in data/demo_stories.toml; the
fake Salesforce serves the API orgs (`serve.fake_orgs`) and the import-only orgs arrive as
exported files (`files.write_exports`).
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from ..model import World, stable_id
from . import routine, stories
from .cast import ORGS

DAYS = 30


def build(as_of: date, *, seed: int = 20250808) -> World:
    end = datetime.combine(as_of + timedelta(days=1), time())
    world = World(start=end - timedelta(days=DAYS), end=end, seed=seed)
    rng = random.Random(seed)
    plan = stories.plan(world)
    for org in ORGS:
        routine.people(world, org, rng)
    stories.standalone(world, rng)
    stories.partner_org(world, rng)
    for org in ORGS:  # after the people, so a thief's "between two refreshes" sees them all
        if org.integration_user:
            routine.integration(world, org, plan, rng)
    world.logins.sort(key=lambda login: (login.org.alias, login.at, login.user_id))
    for number, login in enumerate(world.logins):
        login.record_id = stable_id("0Ya5g", login.org.alias, number, login.at)
        if not login.login_key:
            login.login_key = stable_id("LK", login.record_id)[:16]
    world.partner_calls.sort(key=lambda call: call.at)
    for org in ORGS:
        if org.delivery == "files":
            world.oauth_snapshots[org.alias] = _export_days(world, org.alias)
    return world


def _export_days(world: World, alias: str) -> list[datetime]:
    """Weekly OauthToken exports at 06:00; umbrella's export job stopped after the first."""
    weekly = [world.end - timedelta(days=days, hours=18) for days in (29, 22, 15, 8, 1)]
    return weekly[:1] if alias == "umbrella" else weekly
