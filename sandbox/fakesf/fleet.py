"""The three-org live fleet (sandbox.trio) as fake orgs, and the ingest job's credentials."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ingest.sfid import to18

from .. import trio
from ..trio import export as demo_export
from .model import FakeApp, FakeOrg

INGEST_APP = "tokensentry Ingest"
INGEST_CONSUMER_KEY = "3MVG9demoTokensentryIngestConsumerKey0000000000000000000000000000"
API = "/services/data/v62.0"


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
        org = export.org
        users = {
            monitor_user(org.alias): _id("005", org.alias, "monitor"),
            f"integration@{org.alias}.example": org.integration_user,
        }
        users.update({f"{name}@{org.alias}.example": uid for uid, name, _, _ in org.people})
        acme_sync = FakeApp(trio.APP, trio.CONSUMER_KEY, _id("0H4", "acme-sync"))
        fake = FakeOrg(
            org_id=org.org_id,
            alias=org.alias,
            users=users,
            apps=[ingest_app(keys.public_pem), acme_sync],
            objects={
                "LoginHistory": [
                    r for day in sorted(export.login_history) for r in export.login_history[day]
                ],
                "OauthToken": list(export.oauth_tokens["records"]),  # type: ignore[call-overload]
                "Organization": [{"attributes": {"type": "Organization"}, "Id": org.org_id}],
            },
        )
        token = export.oauth_tokens["records"][0]  # type: ignore[index]
        fake.oauth_usage[acme_sync.app_id] = {
            org.integration_user: [
                {
                    "accessTokenFormat": "Opaque",
                    "appDeveloperName": "Acme_Sync",
                    "appIdentifier": acme_sync.app_id,
                    "initialConnectionAt": token["CreatedDate"],
                    "lastUsedAt": token["LastUsedDate"],
                    "revocationUrl": f"{API}/apps/oauth/usage/tokens/{_id('0Dn', org.alias)}",
                    "useCount": token["UseCount"],
                    "userIdentifier": org.integration_user,
                    "username": f"integration@{org.alias}.example",
                }
            ]
        }
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
    listing = fake.objects.setdefault("EventLogFile", [])
    today = end.strftime("%Y-%m-%d")
    days = sorted(day for day in export.elf_login if day < today)
    for day in days:
        rows = export.elf_login[day]
        created = datetime.fromisoformat(day) + timedelta(days=1, hours=2, minutes=30)
        _add_file(fake, listing, rows, "Daily", 0, f"{day}T00:00:00.000+0000", created)
    if days:
        day = days[-1]
        for hour in sorted({r["TIMESTAMP"][8:10] for r in export.elf_login[day]}):
            hour_rows = [r for r in export.elf_login[day] if r["TIMESTAMP"][8:10] == hour]
            log_date = f"{day}T{hour}:00:00.000+0000"
            start = datetime.fromisoformat(day) + timedelta(hours=int(hour))
            _add_file(fake, listing, hour_rows, "Hourly", 1, log_date, start + timedelta(hours=4))
            if hour == "10":
                _add_file(
                    fake, listing, hour_rows, "Hourly", 2, log_date, start + timedelta(hours=7)
                )


def redeliver(fake: FakeOrg, record_id: str, late_rows: list, created: datetime) -> None:
    """Late rows for a 24-hour file: Salesforce replaces it with the full set and updates
    `CreatedDate` and `LogFileLength`. The Id is kept here, the case an Id-keyed client misses."""
    late = demo_export.elf_csv_bytes(late_rows).split(b"\n", 1)[1]
    body = fake.log_files[record_id].rstrip(b"\n") + b"\n" + late
    fake.log_files[record_id] = body
    listing = next(r for r in fake.objects["EventLogFile"] if r["Id"] == record_id)
    listing["CreatedDate"] = created.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    listing["LogFileLength"] = float(len(body))


def _add_file(
    fake: FakeOrg,
    listing: list,
    rows: list,
    interval: str,
    sequence: int,
    log_date: str,
    created: datetime,
) -> None:
    record_id = _id("0AT", fake.org_id, interval, sequence, log_date)
    body = demo_export.elf_csv_bytes(rows)
    fake.log_files[record_id] = body
    listing.append(
        {
            "attributes": {
                "type": "EventLogFile",
                "url": f"{API}/sobjects/EventLogFile/{record_id}",
            },
            "Id": record_id,
            "EventType": "Login",
            "LogDate": log_date,
            "Interval": interval,
            "Sequence": sequence,
            "CreatedDate": created.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "LogFileLength": float(len(body)),
            "LogFile": f"{API}/sobjects/EventLogFile/{record_id}/LogFile",
        }
    )


def config_text(fake_url: str, ca_path: str, key_path: str, orgs: list[FakeOrg]) -> str:
    """A configuration that ingests the fake orgs over the JWT bearer flow."""
    blocks = []
    for org in orgs:
        sources = ["login_history", "oauth_token"] + (
            ["event_log_file", "login_event"] if "LoginEvent" in org.licensed_objects else []
        )
        blocks.append(
            f"[orgs.{org.alias}]\n"
            f'org_id = "{org.org_id}"\nkind = "subscriber"\n'
            f'instance_url = "{fake_url}"\nlogin_url = "{fake_url}"\nca_bundle = "{ca_path}"\n'
            f"sources = {sources!r}\n".replace("'", '"')
            + f'auth = {{ method = "jwt", username = "{monitor_user(org.alias)}", '
            f'consumer_key = "{INGEST_CONSUMER_KEY}", private_key = {{ file = "{key_path}" }} }}\n'
        )
    return "\n".join(blocks)
