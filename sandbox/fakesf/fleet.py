"""The three-org live fleet (sandbox.trio) as fake orgs, and the ingest job's credentials."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ingest.sfid import to18

from .. import render, trio
from ..salesforce import elf_csv_bytes, organization, soql_time
from .model import FakeApp, FakeOrg

INGEST_APP = "tokensentry Ingest"
INGEST_CONSUMER_KEY = "3MVG9demoTokensentryIngestConsumerKey0000000000000000000000000000"


@dataclass(frozen=True)
class KeyPair:
    private_pem: bytes
    public_pem: bytes


def new_key_pair() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return KeyPair(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )


def monitor_user(alias: str) -> str:
    return f"monitor@{alias}.example"


def _id(prefix: str, *parts: object) -> str:
    digest = hashlib.md5("|".join(map(str, parts)).encode()).hexdigest()
    return to18((prefix + digest)[:15])


def ingest_app(public_pem: bytes) -> FakeApp:
    return FakeApp(
        INGEST_APP, INGEST_CONSUMER_KEY, _id("0H4", "ingest"), certificate_pem=public_pem
    )


def demo_orgs(fleet: trio.Fleet, keys: KeyPair) -> list[FakeOrg]:
    orgs = []
    for export in fleet.orgs:
        org, token = export.org, export.token
        users = {monitor_user(org.alias): _id("005", org.alias, "monitor")}
        users[org.username("integration")] = org.integration_user or ""
        users.update({org.username(p.alias): p.user_id for p in org.people})
        acme_sync = FakeApp(trio.APP, trio.CONSUMER_KEY, token.app_id)
        fake = FakeOrg(
            org_id=org.org_id,
            alias=org.alias,
            users=users,
            apps=[ingest_app(keys.public_pem), acme_sync],
            objects={
                "LoginHistory": [
                    r for day in sorted(export.login_history) for r in export.login_history[day]
                ],
                "OauthToken": [render.oauth_token(token, fleet.end)],
                "Organization": [organization(org.org_id, org.time_zone, org.alias)],
            },
        )
        usage = render.oauth_usage(token, fleet.end)
        fake.oauth_usage[acme_sync.app_id] = {token.user_id: [usage]}
        if org.event_monitoring:
            fake.licensed_objects.add("LoginEvent")
            fake.objects["LoginEvent"] = list(export.login_events)
            _log_files(fake, export, fleet.end)
        orgs.append(fake)
    return orgs


def _log_files(fake: FakeOrg, export: trio.OrgExport, end: datetime) -> None:
    """Daily Login files for every finished day; on the last one the org has the hourly add-on
    too, so that day also comes as Hourly files (one per hour with logins), and hour 10 is
    delivered twice (Sequence 1, 2) as Salesforce does when more data for an hour arrives."""
    today = end.strftime("%Y-%m-%d")
    days = sorted(day for day in export.elf_login if day < today)
    for day in days:
        rows = export.elf_login[day]
        created = datetime.fromisoformat(day) + timedelta(days=1, hours=2, minutes=30)
        _add_file(fake, rows, "Daily", 0, f"{day}T00:00:00.000+0000", created)
    if days:
        day = days[-1]
        for hour in sorted({r["TIMESTAMP"][8:10] for r in export.elf_login[day]}):
            hour_rows = [r for r in export.elf_login[day] if r["TIMESTAMP"][8:10] == hour]
            log_date = f"{day}T{hour}:00:00.000+0000"
            start = datetime.fromisoformat(day) + timedelta(hours=int(hour))
            _add_file(fake, hour_rows, "Hourly", 1, log_date, start + timedelta(hours=4))
            if hour == "10":
                _add_file(fake, hour_rows, "Hourly", 2, log_date, start + timedelta(hours=7))


def redeliver(fake: FakeOrg, record_id: str, late_rows: list, created: datetime) -> None:
    """Late rows for a 24-hour file: Salesforce replaces it with the full set and updates
    `CreatedDate` and `LogFileLength`. The Id is kept here, the case an Id-keyed client misses."""
    late = elf_csv_bytes(late_rows, "Login").split(b"\n", 1)[1]
    body = fake.log_files[record_id].rstrip(b"\n") + b"\n" + late
    fake.log_files[record_id] = body
    listing = next(r for r in fake.objects["EventLogFile"] if r["Id"] == record_id)
    listing["CreatedDate"] = soql_time(created)
    listing["LogFileLength"] = float(len(body))


def _add_file(
    fake: FakeOrg,
    rows: list,
    interval: str,
    sequence: int,
    log_date: str,
    created: datetime,
) -> None:
    record_id = _id("0AT", fake.org_id, interval, sequence, log_date)
    body = elf_csv_bytes(rows, "Login")
    fake.add_log_file(
        record_id, "Login", log_date, body, created, interval=interval, sequence=sequence
    )


def connection(
    alias: str, org_id: str, kind: str, sources: list[str], fake_url: str, ca_path: str,
    key_path: str,
) -> str:  # fmt: skip
    """One org's `[orgs.ALIAS]` block: the JWT bearer flow against the fake Salesforce."""
    return (
        f'[orgs.{alias}]\norg_id = "{org_id}"\nkind = "{kind}"\n'
        f'instance_url = "{fake_url}"\nlogin_url = "{fake_url}"\nca_bundle = "{ca_path}"\n'
        f"sources = {sources!r}\n".replace("'", '"')
        + f'auth = {{ method = "jwt", username = "{monitor_user(alias)}", '
        f'consumer_key = "{INGEST_CONSUMER_KEY}", private_key = {{ file = "{key_path}" }} }}\n'
    )


def config_text(fake_url: str, ca_path: str, key_path: str, orgs: list[FakeOrg]) -> str:
    """A configuration that ingests the fake orgs over the JWT bearer flow."""
    blocks = []
    for org in orgs:
        sources = ["login_history", "oauth_token", "user"] + (
            ["event_log_file", "login_event"] if "LoginEvent" in org.licensed_objects else []
        )
        blocks.append(
            connection(org.alias, org.org_id, "subscriber", sources, fake_url, ca_path, key_path)
        )
    return "\n".join(blocks)
