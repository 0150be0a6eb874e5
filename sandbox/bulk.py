"""The bench's world: large, generated set-based in DuckDB or in bulk, for throughput only.

The same partner ("Acme Sync", allowlisted egress `ALLOWLIST`) and three subscriber orgs as
the small worlds, at any size: a Login EventLogFile CSV of N rows (`write_login_elf`), N
normalized events of a realistic mix plus OauthToken snapshots written straight into a store
(`fill_events`: integration refreshes from allowlisted egress, people's logins, a sprinkle of
off-allowlist use; the Login ELF alone names no app), and fake orgs of M LoginHistory rows
for the ingest bench (`synthetic_org`). Nothing here is judged: speed is a figure, never a test.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from ingest.sfid import to18

from . import trio
from .fakesf.fleet import ingest_app, monitor_user
from .fakesf.model import FakeOrg
from .salesforce import organization

# The live tests' three orgs and the partner's allowlist (sandbox.trio), at any size.
ORGS = [org.org_id[:15] for org in trio.ORGS]
ALLOWLIST = trio.ALLOWLIST
START = datetime(2026, 10, 1)  # the ingest bench's first LoginHistory row

ELF_SQL = """
COPY (
  SELECT 'Login' AS EVENT_TYPE,
    strftime(ts, '%Y%m%d%H%M%S.%g') AS "TIMESTAMP",
    md5(i::VARCHAR)[1:22] AS REQUEST_ID,
    {orgs}[1 + i % 3] AS ORGANIZATION_ID,
    '0055g0000' || lpad((i % 120)::VARCHAR, 6, '0') AS USER_ID,
    (40 + i % 160)::VARCHAR AS RUN_TIME, (10 + i % 50)::VARCHAR AS CPU_TIME,
    CASE WHEN kind < 95 THEN '/services/oauth2/token' ELSE '/index.jsp' END AS URI,
    '' AS SESSION_KEY, md5('k' || i::VARCHAR)[1:16] AS LOGIN_KEY, 'Standard' AS USER_TYPE,
    CASE WHEN kind < 98 THEN 'Success' ELSE 'Failure' END AS REQUEST_STATUS,
    (1000000 + i % 90000000)::VARCHAR AS DB_TOTAL_TIME,
    CASE WHEN kind < 95 THEN 'Java/17.0.9' ELSE 'Mozilla/5.0 (Macintosh) Chrome/131.0' END
        AS BROWSER_TYPE,
    '' AS API_TYPE, '62.0' AS API_VERSION,
    'user' || (i % 120)::VARCHAR || '@example.com' AS USER_NAME,
    'TLSv1.3' AS TLS_PROTOCOL, 'TLS_AES_256_GCM_SHA384' AS CIPHER_SUITE,
    '' AS AUTHENTICATION_METHOD_REFERENCE,
    CASE WHEN kind < 95 THEN 'i' ELSE 'A' END AS LOGIN_TYPE,
    CASE WHEN kind < 90 THEN 'oauthrefreshtoken' WHEN kind < 95 THEN 'oauthcode' ELSE 'uiup' END
        AS LOGIN_SUB_TYPE,
    CASE WHEN kind < 98 THEN 'LOGIN_NO_ERROR' ELSE 'LOGIN_OAUTH_INVALID_IP' END AS LOGIN_STATUS,
    strftime(ts, '%Y-%m-%dT%H:%M:%S.%gZ') AS TIMESTAMP_DERIVED,
    '' AS USER_ID_DERIVED, ip AS CLIENT_IP, '' AS URI_ID_DERIVED, ip AS SOURCE_IP,
    'US' AS COUNTRY_CODE
  FROM (
    SELECT i, (hash(i) % 100)::INTEGER AS kind,
           TIMESTAMP '2026-11-01' + to_milliseconds(i * 1200 + hash(i) % 1000) AS ts,
           CASE WHEN hash(i * 7) % 100 < 97 THEN '203.0.113.' || (hash(i) % 14 + 1)::VARCHAR
                ELSE '198.51.' || (hash(i) % 250)::VARCHAR || '.' || (hash(i * 3) % 250)::VARCHAR
           END AS ip
    FROM range({n}) t(i))
) TO '{path}' (HEADER, FORCE_QUOTE *)
"""

EVENTS_SQL = """
INSERT INTO events BY NAME
WITH base AS (
    SELECT i, (hash(i) % 1000)::INTEGER AS kind, (hash(i * 31) % 1000)::INTEGER AS noise,
           TIMESTAMP '2026-10-30' + to_microseconds(CAST(i * (30 * 86400e6 / {n}) AS BIGINT))
               AS occurred_at,
           {orgs18}[1 + i % 3] AS org_id
    FROM range({n}) t(i)
)
SELECT md5('e' || i::VARCHAR) AS event_id, org_id, occurred_at,
    CASE WHEN kind < 600 THEN 'login' WHEN kind < 800 THEN 'token_exchange'
         WHEN kind < 900 THEN 'login' ELSE 'api_request' END AS event_type,
    CASE WHEN kind < 800 THEN 'refresh_token' WHEN kind < 880 THEN 'ui'
         WHEN kind < 900 THEN 'authorization_code' END AS grant_type,
    noise >= 5 AS is_success,
    CASE WHEN noise < 5 THEN 'Failed: Invalid Token' ELSE 'Success' END AS status,
    -- integration users refresh; people log in; a few hundred of each per org
    CASE WHEN kind < 800 THEN '0055g0000Int' || lpad((i % 40)::VARCHAR, 3, '0') || 'AAA'
         ELSE '0055g000Hum' || lpad((i % 300)::VARCHAR, 4, '0') || 'AAA' END AS user_id,
    CASE WHEN kind BETWEEN 800 AND 879 THEN NULL
         WHEN i % 7 = 0 THEN 'Acme Reports' ELSE 'Acme Sync' END AS app_name,
    CASE WHEN kind < 800 AND noise < 998
             THEN CASE WHEN i % 2 = 0 THEN '203.0.113.' || (1 + i % 14)::VARCHAR
                       ELSE '2001:db8:10::' || (1 + i % 14)::VARCHAR END
         WHEN kind < 800 THEN '198.51.100.' || (noise % 40)::VARCHAR   -- rare off-allowlist use
         WHEN noise < 990
             THEN '100.' || (i % 300 % 64)::VARCHAR || '.' || (i % 300)::VARCHAR || '.1'
         ELSE '185.220.101.' || (noise % 200)::VARCHAR END AS source_ip,
    CASE WHEN kind >= 800 AND kind < 900 AND noise < 990
         THEN 40.7 + (i % 300) % 9 ELSE NULL END AS latitude,
    CASE WHEN kind >= 800 AND kind < 900 AND noise < 990
         THEN -74.0 + (i % 300) % 11 ELSE NULL END AS longitude,
    CASE WHEN kind < 800 THEN 'US' ELSE ['US', 'GB', 'DE'][1 + i % 3] END AS country_iso,
    CASE WHEN kind < 600 OR kind >= 900 THEN 'Remote Access 2.0' ELSE 'Application' END
        AS login_type,
    CASE WHEN noise = 999 THEN 'python-requests/2.32.4' WHEN kind < 900 THEN 'Java/17.0.9'
         ELSE 'Mozilla/5.0 Chrome/131.0' END AS user_agent,
    CASE WHEN kind BETWEEN 600 AND 799
         THEN md5('fp' || (i - CASE WHEN noise = 0 THEN 3 ELSE 0 END)::VARCHAR) END AS token_fp,
    CASE WHEN kind BETWEEN 600 AND 799 THEN md5('fp' || (i + 3)::VARCHAR) END AS new_token_fp,
    CASE WHEN kind BETWEEN 600 AND 799 THEN 'sync-' || (i % 4)::VARCHAR END AS worker,
    CASE WHEN kind >= 900 THEN (hash(i) % 5000)::BIGINT END AS rows_processed,
    CASE WHEN kind >= 900 THEN ['Account', 'Contact', 'Case', 'Opportunity', 'Lead'][1 + i % 5]
         END AS entity_name,
    CASE WHEN kind < 600 THEN ['soql:LoginHistory'] WHEN kind < 800 THEN ['partner_token_log']
         ELSE ['elf:Login'] END AS sources,
    'bench' AS first_run_id, TIMESTAMP '2026-11-29' AS ingested_at,
    TIMESTAMP '2026-11-29' AS updated_at
FROM base
"""

TOKENS_SQL = """
INSERT INTO events BY NAME
SELECT md5('t' || i::VARCHAR) AS event_id, {orgs18}[1 + i % 3] AS org_id,
       TIMESTAMP '2026-11-28' - to_days(i % 45) AS occurred_at, 'token_usage' AS event_type,
       'refresh_token' AS grant_type, '0055g0000Int' || lpad((i % 40)::VARCHAR, 3, '0') || 'AAA'
           AS user_id,
       'Acme Sync' AS app_name, i AS use_count, TIMESTAMP '2026-06-01' AS token_created_at,
       ['soql:OauthToken'] AS sources, 'bench' AS first_run_id,
       TIMESTAMP '2026-11-29' AS ingested_at, TIMESTAMP '2026-11-29' AS updated_at
FROM range(120) t(i)
"""


def orgs18() -> str:
    """The orgs' 18-character ids as a DuckDB list literal."""
    return "[" + ", ".join(f"'{to18(o)}'" for o in ORGS) + "]"


def write_login_elf(path: Path, events: int) -> Path:
    """A Login EventLogFile CSV of `events` rows at `path`."""
    orgs = "[" + ", ".join(f"'{o}'" for o in ORGS) + "]"
    with duckdb.connect() as con:
        con.execute(ELF_SQL.format(orgs=orgs, n=events, path=path))
    return path


def fill_events(con: duckdb.DuckDBPyConnection, events: int) -> None:
    """`events` normalized events over 30 days and the orgs' OauthToken snapshots, in a store."""
    con.execute(EVENTS_SQL.format(orgs18=orgs18(), n=events))
    con.execute(TOKENS_SQL.format(orgs18=orgs18()))


def synthetic_org(index: int, rows: int, public_pem: bytes) -> FakeOrg:
    org_id = to18(f"00D5g0000{index:06d}")
    users = [to18(f"0055g{index:04d}{u:06d}") for u in range(200)]
    records = []
    for n in range(rows):
        at = START + timedelta(seconds=n * 40 + n % 7)
        user = users[n % len(users)]
        refresh = n % 10 < 8
        records.append(
            {
                "attributes": {"type": "LoginHistory"},
                "Id": to18(f"0Ya5g{index:04d}{n:06d}"),
                "UserId": user,
                "LoginTime": at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
                "LoginType": "Remote Access 2.0" if refresh else "Application",
                "LoginSubType": "OAuth Refresh Token" if refresh else "UI Username-Password",
                "Status": "Success" if n % 50 else "Failed: IP Address Not Allowed",
                "SourceIp": f"203.0.113.{n % 14 + 1}" if refresh else f"198.51.100.{n % 200}",
                "Application": "Acme Sync" if refresh else "Browser",
                "Browser": "Unknown",
                "Platform": "Unknown",
                "CountryIso": "US",
                "LoginGeoId": None,
                "LoginGeo": {"attributes": {"type": "LoginGeo"}, "City": "Ashburn",
                             "CountryIso": "US", "Latitude": 39.04, "Longitude": -77.49},
            }
        )  # fmt: skip
    return FakeOrg(
        org_id=org_id,
        alias=f"bench-{index:02d}",
        users={monitor_user(f"bench-{index:02d}"): users[0]},
        apps=[ingest_app(public_pem)],
        objects={"LoginHistory": records, "Organization": [organization(org_id, "UTC")]},
        daily_api_max=10_000_000,
    )
