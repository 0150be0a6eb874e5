"""App attribution: give every login the logs left app-less its most likely app, or none.

The Login event log file has no app column, so a subscriber whose evidence arrives as exported
files shows the partner's refresh-token logins with `app_name` null, and every detector keyed
on the app (allowlist, new network, reuse, and through them cross-org) would go blind. Before
the detectors run, this stage infers the app of each app-less login from evidence already in
the store, strongest first, and stops at the first kind of evidence that speaks:

1. session (confidence 0.95): the login's `LOGIN_KEY` is shared by the API, RestApi and
   BulkApi2 rows of the session it opened. RestApi rows carry `CONNECTED_APP_ID`, resolved to
   a name through the (CONNECTED_APP_ID, CONNECTED_APP_NAME) pairs of ApiTotalUsage rows or
   the OAuth Usage inventory of the same org.
2. token owner (0.8), refresh-token logins only: the user's refresh-token activity (partner
   token log, OauthToken / OAuth Usage, LoginHistory and LoginEvent rows that name the app)
   names exactly one app.
3. user agent (0.5), OAuth logins only: the login's user agent appears, in this org, with
   exactly one app and at least `MIN_AGENT_EVENTS` times.

The user agent also vetoes the token owner: a person who authorised the partner's app and also
refreshes Salesforce's own mobile app holds one token the partner logs and another nobody
exported; when the login's client is known in the org only with other apps, no guess is made.

Evidence that names several apps is ambiguous and ends the search with no guess (a user who
holds tokens for several apps, a session whose calls name several apps): the reason is stored,
the app stays null. Only logged app names are evidence, never another inference.

Limits: the token-owner rule trusts the token inventory to be complete; a person who authorised
the partner's app and refreshes another app whose tokens nobody exported (no OauthToken export,
no LoginHistory) gets the partner's app. The user-agent veto is spoofable: a thief who copies a
client the org knows as another app's escapes the token-owner rule (never the session rule,
whose connected app id comes from Salesforce). Import OauthToken / OAuth Usage and the API
event log files to close both.

Results go to `events.inferred_app / app_inferred_reason / app_confidence` (migration 004);
`app_name` stays the logged fact. One set-based pass over the store, rewritten only where the
verdict changed; a changed inferred app bumps `updated_at` so incremental detectors re-read it.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import duckdb

from ingest import runs

if TYPE_CHECKING:
    from .detector import Context, Finding

UNIT_ID = "app_attribution"
OAUTH_LOGIN_TYPES = ("Remote Access 2.0", "Remote Access Client")
REFRESH_GRANTS = ("refresh_token", "authorization_code")  # the grants that hold refresh tokens
MIN_AGENT_EVENTS = 3
SESSION_CONFIDENCE, OWNER_CONFIDENCE, AGENT_CONFIDENCE = 0.95, 0.8, 0.5


def app_sql(alias: str = "e") -> str:
    """The app of an event: as logged, else as inferred."""
    return f"coalesce({alias}.app_name, {alias}.inferred_app)"


def inferred_sql(alias: str = "e") -> str:
    """True when the event's app is an inference, not a logged fact."""
    return f"({alias}.app_name IS NULL AND {alias}.inferred_app IS NOT NULL)"


def _list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


ATTRIBUTION_SQL = f"""
CREATE OR REPLACE TEMP TABLE app_attribution AS
WITH candidates AS (
    SELECT event_id, org_id, user_id, login_key, user_agent, inferred_app AS stored_app,
           app_inferred_reason AS stored_reason, app_confidence AS stored_confidence,
           list_contains({_list(REFRESH_GRANTS)}, grant_type) AS holds_refresh_token,
           list_contains({_list(REFRESH_GRANTS)}, grant_type)
               OR list_contains({_list(OAUTH_LOGIN_TYPES)}, login_type) AS is_oauth
    FROM events
    WHERE event_type = 'login' AND app_name IS NULL
),
app_ids AS (  -- ApiTotalUsage pairs and the OAuth Usage inventory: connected app id -> name
    SELECT org_id, connected_app_id, mode(app_name) AS app_name
    FROM events
    WHERE connected_app_id IS NOT NULL AND app_name IS NOT NULL
    GROUP BY ALL
),
session_calls AS (
    SELECT s.org_id, s.login_key, coalesce(s.app_name, m.app_name) AS app, s.api_family
    FROM events s
    LEFT JOIN app_ids m ON m.org_id = s.org_id AND m.connected_app_id = s.connected_app_id
    WHERE s.event_type = 'api_request' AND s.login_key IS NOT NULL
      AND coalesce(s.app_name, m.app_name) IS NOT NULL
      AND EXISTS (SELECT 1 FROM candidates c
                  WHERE c.org_id = s.org_id AND c.login_key = s.login_key)
),
sessions AS (
    SELECT org_id, login_key, count(DISTINCT lower(app)) AS apps, min(app) AS app,
           string_agg(DISTINCT app, ', ' ORDER BY app) AS names,
           string_agg(DISTINCT api_family, ', ' ORDER BY api_family) AS families
    FROM session_calls GROUP BY ALL
),
owners AS (
    SELECT org_id, user_id, count(DISTINCT lower(app_name)) AS apps, min(app_name) AS app,
           string_agg(DISTINCT app_name, ', ' ORDER BY app_name) AS names,
           string_agg(DISTINCT CASE event_type
               WHEN 'token_exchange' THEN 'partner token log'
               WHEN 'token_usage' THEN 'OauthToken / OAuth Usage'
               ELSE 'LoginHistory / LoginEvent' END, ', ') AS seen_in
    FROM events o
    WHERE app_name IS NOT NULL AND user_id IS NOT NULL
      AND (event_type = 'token_usage'
           OR (event_type IN ('login', 'token_exchange')
               AND list_contains({_list(REFRESH_GRANTS)}, grant_type)))
      AND EXISTS (SELECT 1 FROM candidates c
                  WHERE c.org_id = o.org_id AND c.user_id = o.user_id AND c.holds_refresh_token)
    GROUP BY ALL
),
agents AS (
    SELECT org_id, user_agent, count(DISTINCT lower(app_name)) AS apps, min(app_name) AS app,
           count(*) AS uses, list(DISTINCT lower(app_name)) AS keys,
           string_agg(DISTINCT app_name, ', ' ORDER BY app_name) AS names
    FROM events a
    WHERE app_name IS NOT NULL AND user_agent IS NOT NULL
      AND EXISTS (SELECT 1 FROM candidates c
                  WHERE c.org_id = a.org_id AND c.user_agent = a.user_agent AND c.is_oauth)
    GROUP BY ALL
),
verdicts AS (
    SELECT c.event_id,
        CASE WHEN s.apps IS NOT NULL THEN 'session'
             -- The user's only app, unless the login's own client is known as another app's
             -- (a person's phone app refreshing beside the partner's token: no guess).
             WHEN o.apps = 1 AND c.holds_refresh_token AND a.uses >= {MIN_AGENT_EVENTS}
                  AND NOT list_contains(a.keys, lower(o.app)) THEN 'contradicted'
             WHEN o.apps IS NOT NULL AND c.holds_refresh_token THEN 'owner'
             WHEN a.apps = 1 AND a.uses >= {MIN_AGENT_EVENTS} AND c.is_oauth THEN 'agent'
        END AS kind,
        s.apps AS session_apps, s.app AS session_app, s.names AS session_names, s.families,
        o.apps AS owner_apps, o.app AS owner_app, o.names AS owner_names, o.seen_in,
        a.app AS agent_app, a.names AS agent_names, c.user_agent,
        c.stored_app, c.stored_reason, c.stored_confidence
    FROM candidates c
    LEFT JOIN sessions s ON s.org_id = c.org_id AND s.login_key = c.login_key
    LEFT JOIN owners o ON o.org_id = c.org_id AND o.user_id = c.user_id
    LEFT JOIN agents a ON a.org_id = c.org_id AND a.user_agent = c.user_agent
)
SELECT *,
    app IS DISTINCT FROM stored_app OR reason IS DISTINCT FROM stored_reason
        OR confidence IS DISTINCT FROM stored_confidence AS changed
FROM (
SELECT event_id, stored_app, stored_reason, stored_confidence,
    CASE kind WHEN 'session' THEN CASE WHEN session_apps = 1 THEN session_app END
              WHEN 'owner' THEN CASE WHEN owner_apps = 1 THEN owner_app END
              WHEN 'agent' THEN agent_app END AS app,
    CASE kind
        WHEN 'session' THEN CASE WHEN session_apps = 1
            THEN 'session: the API calls of this login''s session ('
                 || coalesce(families, 'API') || ') name only ' || session_app
            ELSE 'ambiguous: the API calls of this login''s session name ' || session_names END
        WHEN 'owner' THEN CASE WHEN owner_apps = 1
            THEN 'token owner: the user''s refresh-token activity (' || seen_in
                 || ') names only ' || owner_app
            ELSE 'ambiguous: the user holds refresh tokens for ' || owner_names END
        WHEN 'agent' THEN 'user agent: "' || left(user_agent, 60)
            || '" appears in this org with ' || agent_app || ' only'
        WHEN 'contradicted' THEN 'ambiguous: the user holds refresh tokens for ' || owner_app
            || ' only, but the login''s user agent "' || left(user_agent, 60)
            || '" appears in this org with ' || agent_names
    END AS reason,
    CASE kind WHEN 'session' THEN CASE WHEN session_apps = 1 THEN {SESSION_CONFIDENCE} END
              WHEN 'owner' THEN CASE WHEN owner_apps = 1 THEN {OWNER_CONFIDENCE} END
              WHEN 'agent' THEN {AGENT_CONFIDENCE} END AS confidence
FROM verdicts
)
"""

APPLY_SQL = """
UPDATE events SET
    inferred_app = t.app, app_inferred_reason = t.reason, app_confidence = t.confidence,
    updated_at = CASE WHEN t.app IS DISTINCT FROM t.stored_app
                      THEN CAST(? AS TIMESTAMP) ELSE events.updated_at END
FROM (SELECT * FROM app_attribution WHERE changed) t  -- usually few: join only those
WHERE events.event_id = t.event_id
"""

# A login whose app a later source named (LoginHistory merged into a Login ELF row) keeps the
# logged name only; its old inference would only confuse.
CLEAR_SQL = """
UPDATE events SET inferred_app = NULL, app_inferred_reason = NULL, app_confidence = NULL
WHERE (inferred_app IS NOT NULL OR app_inferred_reason IS NOT NULL)
  AND (app_name IS NOT NULL OR event_type <> 'login')
"""


INFERRED_OF_EVENTS_SQL = """
SELECT count(*), list(DISTINCT app_inferred_reason ORDER BY app_inferred_reason),
       min(app_confidence)
FROM events WHERE list_contains(?, event_id) AND app_name IS NULL AND inferred_app IS NOT NULL
"""


def mark_inferred(ctx: Context, findings: list[Finding]) -> list[Finding]:
    """Say so in the summary and evidence of every finding that stands on an inferred app."""
    marked = []
    for finding in findings:
        count, reasons, confidence = ctx.con.execute(
            INFERRED_OF_EVENTS_SQL, [list(finding.event_ids)]
        ).fetchone()  # type: ignore[misc]
        if count:
            finding = dataclasses.replace(
                finding,
                summary=f"{finding.summary} App inferred for {count} Login ELF use(s), "
                f"confidence {confidence:.2f}: {reasons[0]}.",
                evidence={
                    **finding.evidence,
                    "app_inferred": {
                        "events": count, "reasons": reasons, "confidence": confidence,
                    },
                },
            )  # fmt: skip
        marked.append(finding)
    return marked


@dataclass
class AttributionOutcome:
    status: str  # ok | failed
    inferred: int = 0  # app-less logins that now carry an inferred app
    ambiguous: int = 0  # app-less logins whose evidence named several apps
    changed: int = 0  # logins whose verdict changed in this run
    seconds: float = 0.0
    error: str | None = None


def attribute(con: duckdb.DuckDBPyConnection, *, now: datetime) -> AttributionOutcome:
    """Infer, store, and count. One transaction: detectors never see half a pass."""
    started = time.perf_counter()
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(ATTRIBUTION_SQL)
        changed = con.execute(APPLY_SQL, [now]).fetchone()[0]  # type: ignore[index]
        con.execute(CLEAR_SQL)
        inferred, ambiguous = con.execute(
            "SELECT count(app), count(*) FILTER (WHERE reason LIKE 'ambiguous:%') "
            "FROM app_attribution"
        ).fetchone()  # type: ignore[misc]
        con.execute("DROP TABLE app_attribution")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return AttributionOutcome(
        "ok", inferred, ambiguous, changed, seconds=time.perf_counter() - started
    )


def run(con: duckdb.DuckDBPyConnection, *, run_id: str, now: datetime) -> AttributionOutcome:
    """The detect stage's first step, recorded as its own run row like a detector."""
    runs.start(con, run_id=run_id, stage="detect", unit_id=UNIT_ID, now=now)
    try:
        outcome = attribute(con, now=now)
    except duckdb.Error as exc:  # recorded and surfaced (exit 1); detectors still run
        detail = "".join(traceback.format_exception_only(exc)).strip()
        outcome = AttributionOutcome("failed", error=f"app attribution: {detail}")
    runs.finish(
        con,
        run_id=run_id,
        stage="detect",
        unit_id=UNIT_ID,
        status=outcome.status,
        now=now,
        rows_read=outcome.inferred,
        rows_new=outcome.changed,
        error=outcome.error,
        details={"ambiguous": outcome.ambiguous, "seconds": round(outcome.seconds, 3)},
    )
    return outcome
