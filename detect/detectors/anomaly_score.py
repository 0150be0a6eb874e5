"""Days on which an (org, app, user) behaved unlike itself, scored by an IsolationForest.

Why it matters: stolen tokens are used differently from how the integration uses them: more
calls, new addresses, other countries, odd hours, failures, bulk reads. No single threshold
fits every integration, so each (org, app, user, UTC day) becomes a row of features (events,
distinct IPs, networks and countries, failure ratio, share of events between 00:00 and 06:00
in the org's own time zone (Organization.TimeZoneSidKey; UTC for import-only orgs), API rows
processed), an IsolationForest (fixed `random_state`) is trained on the last `history_days`,
and a day is reported when the forest isolates it (decision score below `max_score`) and at
least one feature is far above the entity's own median (`ratio` times it, and by at least
`min_excess`): the alert names those features.

An unusual day alone is low: deploys, backfills and month-end runs are unusual too. It is
medium when another detector's alert of medium or more (not superseded) names the same org and
user on the same day; the alert then lists them. It runs after the other detectors for that.

Blind spots: entities with fewer than `min_days` days of history; slow, low-volume abuse that
stays within the entity's habits; a model trained on a history that already contains the abuse;
the current UTC day, judged only once it is over.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from ingest.org_profile import time_zones

from ..detector import Context, Detector, Example, Finding
from ..geo import NETWORK_SQL
from ..testing import ALLOWED_IP, refresh

FEATURES = ["events", "ips", "networks", "countries", "failure_ratio", "night_share", "api_rows"]

DAYS_SQL = """
SELECT org_id, coalesce(app_name, '') AS app, user_id, CAST(occurred_at AS DATE) AS day,
       count(*) AS events,
       count(DISTINCT source_ip) AS ips,
       count(DISTINCT {network}) AS networks,
       count(DISTINCT country_iso) AS countries,
       avg(CASE WHEN is_success IS NULL THEN 0 WHEN is_success THEN 0 ELSE 1 END) AS failure_ratio,
       avg(CASE WHEN hour(timezone(coalesce(z.zone, 'UTC'), occurred_at AT TIME ZONE 'UTC')) < 6
           THEN 1 ELSE 0 END) AS night_share,
       coalesce(sum(rows_processed), 0) AS api_rows,
       max(updated_at) AS updated_at, max(occurred_at) AS occurred_at
FROM events LEFT JOIN org_zones z USING (org_id)
WHERE {days}
GROUP BY ALL
ORDER BY org_id, app, user_id, day  -- the forest's subsamples follow row order: keep it fixed
"""
DAYS_WHERE = """event_type IN ('login', 'token_exchange', 'api_request') AND user_id IS NOT NULL
  AND occurred_at >= ?"""

# The events and addresses of the days reported only: listing every day's events would move
# the whole table into pandas (10 M event ids at 10 M events) to report a few dozen days.
REPORTED_SQL = """
SELECT e.org_id, coalesce(e.app_name, '') AS app, e.user_id, CAST(e.occurred_at AS DATE) AS day,
       list(e.event_id ORDER BY e.occurred_at) AS event_ids,
       list(DISTINCT e.source_ip) FILTER (WHERE e.source_ip IS NOT NULL) AS ip_list
FROM events e
SEMI JOIN reported_days r
    ON r.org_id = e.org_id AND r.app = coalesce(e.app_name, '') AND r.user_id = e.user_id
   AND CAST(r.day AS DATE) = CAST(e.occurred_at AS DATE)
WHERE e.event_type IN ('login', 'token_exchange', 'api_request') AND e.user_id IS NOT NULL
  AND e.occurred_at >= ?
GROUP BY ALL
"""

CORROBORATION_SQL = """
SELECT alert_id, detector_id, severity FROM alerts
WHERE detector_id NOT IN ('anomaly_score', 'cross_org') AND superseded_at IS NULL
  AND list_contains(['medium', 'high', 'critical'], severity) AND org_id = ?
  AND (user_id = ? OR list_contains(
        CAST(json_extract(evidence, '$.users') AS VARCHAR[]), ?))
  AND first_seen_at < ? + INTERVAL 1 DAY AND last_seen_at >= ?
ORDER BY alert_id
"""


def score_days(ctx: Context) -> pd.DataFrame:
    """Every entity-day of the history with its anomaly score (lower is stranger), most
    anomalous first."""
    from sklearn.ensemble import IsolationForest

    s = ctx.settings
    start = ctx.now - timedelta(days=s["history_days"])
    zones = time_zones(ctx.con)
    ctx.con.register(
        "org_zones", pd.DataFrame({"org_id": list(zones), "zone": list(zones.values())}, dtype=str)
    )
    try:
        frame = ctx.con.execute(
            DAYS_SQL.format(network=NETWORK_SQL.format(ip="source_ip"), days=DAYS_WHERE), [start]
        ).df()
    finally:
        ctx.con.unregister("org_zones")
    if len(frame) < s["min_rows"]:
        return frame.iloc[0:0].assign(score=pd.Series(dtype=float))
    model = IsolationForest(n_estimators=200, random_state=s["random_state"], contamination="auto")
    values = frame[FEATURES].astype(float).to_numpy()
    model.fit(values)
    frame["score"] = model.decision_function(values)
    return frame.sort_values("score", kind="stable").reset_index(drop=True)


def find(ctx: Context) -> list[Finding]:
    s = ctx.settings
    frame = score_days(ctx)
    if frame.empty:
        return []
    keys = ["org_id", "app", "user_id"]
    medians = frame.groupby(keys)[FEATURES].median()
    history = frame.groupby(keys)["day"].count()
    # The day in progress is not a day yet: before 06:00 every event of it is "night", and
    # its counts are a fraction of a full day's. It is judged once it is over.
    in_scope = pd.to_datetime(frame["day"]) < pd.Timestamp(ctx.now.date())
    if ctx.since is not None:
        in_scope &= frame["occurred_at"] >= pd.Timestamp(ctx.since)
    if ctx.changed_since is not None:
        in_scope &= frame["updated_at"] >= pd.Timestamp(ctx.changed_since)
    median_of = medians.to_dict("index")  # a dict lookup per day, not a .loc
    history = history.to_dict()
    reported = []
    for row in frame[(frame["score"] < s["max_score"]) & in_scope].itertuples(index=False):
        key = (row.org_id, row.app, row.user_id)
        if history[key] < s["min_days"]:
            continue
        median = median_of[key]
        unusual = {
            f: {"value": round(float(getattr(row, f)), 3), "median": round(float(median[f]), 3)}
            for f in FEATURES
            if getattr(row, f) >= s["ratio"] * median[f]
            and getattr(row, f) - median[f] >= s["min_excess"].get(f, 1)
        }
        if unusual:
            reported.append((row, key, unusual))
    lists = _reported_lists(ctx, [row for row, _, _ in reported])
    findings = []
    for row, key, unusual in reported:
        event_ids, ip_list = lists[(row.org_id, row.app, row.user_id, _date(row.day))]
        described = ", ".join(
            f"{f} {v['value']:g} (usually {v['median']:g})" for f, v in unusual.items()
        )
        day = pd.Timestamp(row.day).to_pydatetime()
        corroborating = ctx.rows(
            CORROBORATION_SQL, [row.org_id, row.user_id, row.user_id, day, day]
        )
        seconded = (
            "; the same day "
            + ", ".join(f"{a['detector_id']} ({a['severity']})" for a in corroborating)
            + " alerted on this user"
            if corroborating
            else "; no other detector alerted on this user that day"
        )
        findings.append(
            Finding(
                dedup_key=f"{row.org_id}|{row.app}|{row.user_id}|{row.day}",
                summary=(
                    f"{ctx.org_label(row.org_id)}: {row.app or 'no app'} user {row.user_id} on "
                    f"{row.day} was unlike its own history: {described}; IPs "
                    f"{', '.join(sorted(ip_list)[:5]) or 'none known'}{seconded}."
                ),
                first_seen_at=min(pd.Timestamp(row.day).to_pydatetime(), row.occurred_at),
                last_seen_at=row.occurred_at,
                event_ids=list(event_ids),
                evidence={
                    "score": round(float(row.score), 4),
                    "features": unusual,
                    "history_days": int(history[key]),
                    "corroborated_by": [a["alert_id"] for a in corroborating],
                },
                org_id=row.org_id,
                app_name=row.app or None,
                user_id=row.user_id,
                ips=sorted(ip_list),
                severity="medium" if corroborating else "low",
            )
        )
    return findings


def _date(day) -> date:  # type: ignore[no-untyped-def]
    return pd.Timestamp(day).date()


def _reported_lists(ctx: Context, rows: list) -> dict[tuple, tuple[list[str], list[str]]]:
    """(org, app, user, day) -> the day's event ids (in time order) and distinct IPs."""
    if not rows:
        return {}
    days = pd.DataFrame(
        {
            "org_id": [r.org_id for r in rows],
            "app": [r.app for r in rows],
            "user_id": [r.user_id for r in rows],
            "day": pd.to_datetime([_date(r.day) for r in rows]),
        }
    )
    start = ctx.now - timedelta(days=ctx.settings["history_days"])
    ctx.con.register("reported_days", days)
    try:
        found = ctx.con.execute(REPORTED_SQL, [start]).fetchall()
    finally:
        ctx.con.unregister("reported_days")
    return {
        (org, app, user, _date(day)): (list(ids), list(ips or []))
        for org, app, user, day, ids, ips in found
    }


def _history(days: int, users: int = 6, per_day: int = 12, **fields: str) -> list[dict]:
    """Integration users refreshing from allowlisted egress during working hours, every day."""
    return [
        refresh(
            f"2026-11-{day + 1:02d}T{8 + slot:02d}:{user * 7 % 60:02d}:00",
            ALLOWED_IP,
            user_id=f"0055g00000User{user}AAA",
            country_iso="US",
            **fields,
        )
        for day in range(days)
        for user in range(users)
        for slot in range(per_day)
    ]


def _outlier_day(**fields: str) -> list[dict]:
    """One user's day of 200 refreshes at night from 40 addresses in 4 countries."""
    return [
        refresh(
            f"2026-11-12T{slot % 6:02d}:{slot % 60:02d}:{slot % 59:02d}",
            f"198.51.{slot % 40}.{slot % 200}",
            user_id="0055g00000User1AAA",
            country_iso=["US", "NL", "RU", "SG"][slot % 4],
            **fields,
        )
        for slot in range(200)
    ]


EXAMPLES = [
    Example("a night of 200 refreshes from 40 off-allowlist addresses, which off_allowlist_ip "
            "also flags, is medium", [*_history(12), *_outlier_day()], expect=1,
            severity="medium"),
    Example("the same night with nothing else to second it is low",
            [*_history(12, app_name="Other App"), *_outlier_day(app_name="Other App")],
            expect=1, severity="low"),
    Example("twelve ordinary days raise nothing", _history(12), expect=0),
]  # fmt: skip

DETECTOR = Detector(
    id="anomaly_score",
    title="Unusual day for an app user (IsolationForest)",
    severity="low",
    description=__doc__ or "",
    find=find,
    examples=EXAMPLES,
    runbook="""\
1. Read which features were unusual and by how much (evidence.features, against the median).
2. Check the day's events (dashboard or `alerts --format json`): new IPs, countries, night-time
   refresh bursts, bulk API rows.
3. Explained by a deploy, backfill or migration: mark false_positive with a note.
4. Unexplained: handle as a suspected token theft (revoke the user's tokens for the app, review
   API activity); check new_network and suspicious_client alerts for the same user.
""",
    settings={
        "history_days": 30,
        "random_state": 7,
        "max_score": -0.05,
        "min_rows": 30,
        "min_days": 5,
        "ratio": 3.0,
        "min_excess": {
            "events": 20,
            "ips": 3,
            "networks": 2,
            "countries": 1,
            "failure_ratio": 0.3,
            "night_share": 0.3,
            "api_rows": 10000,
        },
    },
    lookback=timedelta(days=30),
    attack=("T1550.001", "T1530"),  # token use; Data from Cloud Storage
    needs="login, token-exchange and API events with user ids; the org's time zone",
    reads_alerts=True,  # corroboration: runs after the detectors whose alerts it reads
    history_setting="history_days",
    slow_imports=("sklearn.ensemble",),
)
