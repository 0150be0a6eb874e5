"""A store with 200 days of history for the retention and export tests: bulk events and raw
rows every day, alerts citing old events, triage, the audit trail, an incident, state rows
(a source's only row, a token's only snapshot) older than any retention."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from detect.testing import ORG, OTHER_ORG, insert_events, token_snapshot
from ingest import db

NOW = datetime(2026, 11, 18, 12, 0)
DAYS = 200
PER_DAY = 600
RETENTION = 120
CUTOFF = datetime(2026, 7, 21)  # the UTC day RETENTION days before NOW

BULK_EVENTS = """
INSERT INTO events BY NAME
SELECT 'bulk-' || i AS event_id,
       CASE WHEN i % 2 = 0 THEN '{org}' ELSE '{other}' END AS org_id,
       TIMESTAMP '{now}' - to_days(CAST(i // {per_day} AS INTEGER))
           - to_minutes(CAST(i % {per_day} AS INTEGER)) AS occurred_at,
       'login' AS event_type, 'refresh_token' AS grant_type, true AS is_success,
       'Success' AS status, '0055g00000AbCdEAAV' AS user_id, 'Acme Sync' AS app_name,
       '203.0.113.' || (i % 14 + 1) AS source_ip,
       'Java/17 ' || md5(i::VARCHAR) AS user_agent, md5('k' || i) AS login_key,
       ['soql:LoginHistory'] AS sources, 'bulk' AS first_run_id,
       TIMESTAMP '{now}' AS ingested_at,
       TIMESTAMP '{now}' AS updated_at
FROM range({days} * {per_day}) t(i)
"""

BULK_RAW_ELF = """
INSERT INTO raw_elf BY NAME
SELECT '{org}' AS _org_id, CAST(i AS UHUGEINT) AS _record_id,
       TIMESTAMP '{now}' - to_days(CAST(i // {per_day} AS INTEGER))
           AS _occurred_at,
       'Login.csv' AS _origin, i AS _line, 'bulk' AS _run_id,
       TIMESTAMP '{now}' AS _fetched_at, 'Login' AS EVENT_TYPE
FROM range({days} * {per_day}) t(i)
"""


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def bulk_id(days: int, minute: int = 0) -> str:
    """The bulk event `days` days (and `minute` minutes) before NOW."""
    return f"bulk-{days * PER_DAY + minute}"


def raw_record(con, org, source, record_id, occurred_at, payload=None, fetched_at=None):
    con.execute(
        "INSERT INTO raw_records VALUES (?, ?, ?, ?, ?, 'test', 'test', ?)",
        [org, source, record_id, occurred_at, json.dumps(payload or {}), fetched_at or NOW],
    )


def put_alert(con, alert_id, event_ids, *, last_seen: datetime, detector="off_allowlist_ip"):
    con.execute(
        "INSERT INTO alerts (alert_id, detector_id, dedup_key, severity, org_id, app_name, "
        "user_id, ips, first_seen_at, last_seen_at, event_count, event_ids, title, summary, "
        "evidence, first_run_id, last_run_id, created_at, updated_at) "
        "VALUES (?, ?, ?, 'high', ?, 'Acme Sync', NULL, ['198.51.100.7'], ?, ?, ?, ?, "
        "'title', ?, '{\"why\": \"test\"}', 'r', 'r', ?, ?)",
        [
            alert_id, detector, alert_id, ORG, last_seen - timedelta(hours=1), last_seen,
            len(event_ids), list(event_ids), f"summary of {alert_id}", last_seen, last_seen,
        ],
    )  # fmt: skip


def build(path: Path, *, days: int = DAYS, per_day: int = PER_DAY) -> None:
    """`days` of bulk history, `per_day` events (and raw ELF rows) a day over two orgs."""
    shape = {"now": f"{NOW:%Y-%m-%d %H:%M:%S}", "days": days, "per_day": per_day,
             "org": ORG, "other": OTHER_ORG}  # fmt: skip
    with db.connect(path) as con:
        con.execute(BULK_EVENTS.format(**shape))
        con.execute(BULK_RAW_ELF.format(**shape))
        # A token last used 170 days ago, read once: its only snapshot is state, not history.
        insert_events(
            con,
            [token_snapshot(days_ago(170).isoformat(), event_id="token-old")],
            loaded_at=days_ago(169),
        )
        for age in (190, 150, 100, 10):
            raw_record(con, ORG, "soql:LoginHistory", f"lh-{age}", days_ago(age))
        raw_record(con, ORG, "soql:Organization", "org-1", None, {"TimeZoneSidKey": "UTC"},
                   fetched_at=days_ago(180))  # fmt: skip
        for age in (185, 184, 60):
            raw_record(con, ORG, "soql:EventLogFile", f"elf-{age}", days_ago(age),
                       {"Interval": "Hourly", "EventType": "Login",
                        "LogDate": f"{days_ago(age):%Y-%m-%d}T00:00:00.000+0000"})  # fmt: skip
        for age in (150, 3):
            con.execute(
                "INSERT INTO quarantine (quarantine_id, run_id, origin, line, reason, raw_text, "
                "quarantined_at) VALUES (?, 'r', 'bad.csv', 2, 'no timestamp', 'x,y', ?)",
                [f"q-{age}", days_ago(age)],
            )
        # An old alert citing two old events and a new one; a recent alert; both triaged.
        put_alert(con, "alert-old", [bulk_id(150), bulk_id(150, 1)], last_seen=days_ago(150))
        put_alert(con, "alert-span", [bulk_id(140), bulk_id(5)], last_seen=days_ago(5))
        con.execute(
            "INSERT INTO triage VALUES ('alert-old', 'resolved', 'NAT of the partner', 'ana', ?)",
            [days_ago(149)],
        )
        con.execute(
            "INSERT INTO audit_log VALUES ('audit-1', ?, 'ana', 'alert', 'alert-old', NULL, "
            "'new', 'resolved', 'NAT of the partner', 'cli')",
            [days_ago(149)],
        )
        con.execute(
            "INSERT INTO incidents VALUES ('alert-old', ?, 'high', 'Acme Sync', NULL, "
            "['198.51.100.7'], ['off_allowlist_ip'], ?, ?, 2, 'two alerts', [], ?, ?)",
            [ORG, days_ago(150), days_ago(5), days_ago(150), days_ago(5)],
        )
        con.executemany(
            "INSERT INTO incident_alerts VALUES (?, 'alert-old', ?, ?)",
            [["alert-old", "first", days_ago(150)], ["alert-span", "ip:198.51.100.7", NOW]],
        )
