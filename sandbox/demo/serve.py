"""The demo world's API orgs as fake Salesforce orgs, and the config that ingests them.

What each org serves is what its licences give: LoginHistory, OauthToken and the OAuth usage
resources everywhere; EventLogFile (daily Login, Logout, ApiTotalUsage and BulkApi2 files) and
LoginEvent where the org has Event Monitoring (northwind bought the add-on `ELF_DAYS` days before
the reference day, so its EventLogFile listing starts then). Snapshots (OauthToken, OAuth
usage) describe the tokens at the world's end, the moment the demo's ingest "runs".
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ingest.sfid import to18
from ingest.source import all_sources

from ..fakesf.fleet import KeyPair, connection, ingest_app, monitor_user
from ..fakesf.model import FakeApp, FakeOrg
from ..model import World, stable_id
from ..render import oauth_token, oauth_usage, org_logs
from ..salesforce import elf_csv_bytes, organization
from . import cast

ELF_DAYS = 5

APPS = (
    (cast.PARTNER_APP, cast.PARTNER_CONSUMER_KEY, cast.PARTNER_APP_ID),
    (cast.VENDOR_APP, "3MVG9demoZenithCpqConsumerKey", cast.VENDOR_APP_ID),
    (cast.MOBILE_APP, "3MVG9demoSalesforceForIosKey", cast.MOBILE_APP_ID),
    (cast.DATA_LOADER, "3MVG9demoDataLoaderKey", cast.DATA_LOADER_ID),
    (cast.LOOKALIKE_APP, "3MVG9demoLookalikeKey", cast.LOOKALIKE_APP_ID),
)


def fake_orgs(world: World, keys: KeyPair) -> list[FakeOrg]:
    return [_fake_org(world, org, keys) for org in cast.ORGS if org.delivery == "api"]


def _fake_org(world: World, org: cast.Org, keys: KeyPair) -> FakeOrg:
    logs = org_logs(world, org)
    users = {monitor_user(org.alias): to18(stable_id("005", org.alias, "monitor")[:15])}
    if org.integration_user:
        users[org.username("integration")] = org.integration_user
    users.update({org.username(p.alias): p.user_id for p in org.people})
    users.update({org.username(alias): uid for alias, uid in org.extra_users.items()})
    tokens = [t for t in world.tokens.values() if t.org is org]
    apps = [ingest_app(keys.public_pem)] + [FakeApp(*app) for app in APPS]
    fake = FakeOrg(
        org_id=org.org_id,
        alias=org.alias,
        users=users,
        apps=apps,
        objects={
            "LoginHistory": logs.login_history,
            "OauthToken": [oauth_token(t, world.end) for t in tokens],
            "Organization": [organization(org.org_id, org.time_zone, org.alias)],
        },
    )
    for token in tokens:
        fake.oauth_usage.setdefault(token.app_id, {}).setdefault(token.user_id, []).append(
            oauth_usage(token, world.end)
        )
    if org.login_event:
        fake.licensed_objects.add("LoginEvent")
        fake.objects["LoginEvent"] = logs.login_events
    if org.event_monitoring:
        first_day = f"{world.end - timedelta(days=ELF_DAYS):%Y-%m-%d}"
        for (event_type, day), rows in logs.elf.items():
            if day >= first_day:
                _add_file(fake, event_type, day, rows)
    return fake


def _add_file(fake: FakeOrg, event_type: str, day: str, rows: list) -> None:
    """A daily file, created (as Salesforce does) in the early hours of the next day."""
    record_id = to18(stable_id("0AT", fake.org_id, event_type, day)[:15])
    body = elf_csv_bytes(rows, event_type)
    created = datetime.fromisoformat(day) + timedelta(days=1, hours=2, minutes=30)
    fake.add_log_file(record_id, event_type, f"{day}T00:00:00.000+0000", body, created)


def config_api_orgs(fake_url: str, ca_path: str, key_path: str, orgs: list[FakeOrg]) -> str:
    """Each API org's connection: the JWT bearer flow against the fake Salesforce."""
    known = {source.id for source in all_sources()}  # the OAuth usage source, once it exists
    blocks = []
    for fake in orgs:
        org = cast.BY_ALIAS[fake.alias]
        sources = [s for s in ("login_history", "oauth_token", "oauth_usage", "user") if s in known]
        sources += ["event_log_file"] if org.event_monitoring else []
        sources += ["login_event"] if org.login_event else []
        blocks.append(
            connection(org.alias, org.org_id, org.kind, sources, fake_url, ca_path, key_path)
        )
    return "\n".join(blocks)
