"""The baseline of what an app reads, in SQL over TEMP `api_reads` (`detect/api_reads.py`):
per session and object its rows against the (org, app, user, object) threshold of that day
(`VOLUME_SQL` -> TEMP `exfil_volume`), and the sessions that break it by volume or by breadth
(`FLAGGED_SQL` -> TEMP `exfil_flagged`). The data_exfiltration detector explains the method;
its settings are the `$` parameters.
"""

from __future__ import annotations

KEYED = """keyed AS (
    SELECT *, coalesce(app, '') AS app_key, CAST(first_at AS DATE) AS day FROM api_reads
)"""

# Per session and object: its rows, the day's rows, and the object's threshold that day.
VOLUME_SQL = f"""
CREATE OR REPLACE TEMP TABLE exfil_volume AS
WITH {KEYED},
days AS (
    SELECT org_id, app_key, user_id, entity, day, sum(rows) AS rows
    FROM keyed GROUP BY ALL
),
active AS (SELECT DISTINCT org_id, app_key, user_id, day FROM days),
objects AS (SELECT DISTINCT org_id, app_key, user_id, entity FROM days),
grid AS (  -- every active day of the user, 0 for an object it did not read that day
    SELECT a.org_id, a.app_key, a.user_id, o.entity, a.day, coalesce(d.rows, 0) AS rows
    FROM active a JOIN objects o USING (org_id, app_key, user_id)
    LEFT JOIN days d USING (org_id, app_key, user_id, entity, day)
),
centre AS (
    SELECT org_id, app_key, user_id, entity, count(*) AS n_days, median(rows) AS med,
           quantile_cont(rows, $quantile) AS high
    FROM grid GROUP BY ALL
),
spread AS (
    SELECT g.org_id, g.app_key, g.user_id, g.entity, median(abs(g.rows - c.med)) AS mad
    FROM grid g JOIN centre c USING (org_id, app_key, user_id, entity) GROUP BY ALL
),
thresholds AS (
    SELECT c.*, s.mad,
           CASE WHEN c.n_days >= $min_days
                THEN greatest($min_rows, $volume_factor * c.high,
                              c.med + $mad_k * 1.4826 * s.mad)
                ELSE $min_rows END AS threshold
    FROM centre c JOIN spread s USING (org_id, app_key, user_id, entity)
),
first_read AS (  -- the first day this app read the object in this org, any user
    SELECT org_id, app_key, entity, min(day) AS first_day FROM days GROUP BY ALL
),
session_objects AS (
    SELECT org_id, app_key, user_id, session, entity, min(day) AS day, sum(rows) AS rows
    FROM keyed GROUP BY ALL
)
SELECT s.org_id, s.app_key, s.user_id, s.session, s.entity, s.rows, d.rows AS day_rows,
       t.med, t.high, t.n_days, f.first_day = s.day AS new_object,
       t.threshold * CASE WHEN day(s.day) = 1
                               OR day(s.day) > day(last_day(s.day)) - $month_end_days
                          THEN $month_end_factor ELSE 1 END AS threshold
FROM session_objects s
JOIN thresholds t USING (org_id, app_key, user_id, entity)
JOIN days d USING (org_id, app_key, user_id, entity, day)
JOIN first_read f USING (org_id, app_key, entity)
"""

FLAGGED_SQL = f"""
CREATE OR REPLACE TEMP TABLE exfil_flagged AS
WITH {KEYED},
buckets AS (
    SELECT org_id, app_key, session,
           count(DISTINCT entity) FILTER (WHERE entity <> $unnamed) AS objects
    FROM keyed
    GROUP BY org_id, app_key, session, time_bucket(to_minutes($breadth_minutes), first_at)
),
breadth AS (SELECT org_id, app_key, session, max(objects) AS objects FROM buckets GROUP BY ALL),
breadth_base AS (
    SELECT org_id, app_key, count(*) AS sessions,
           quantile_cont(objects, $quantile) AS usual
    FROM breadth GROUP BY ALL
),
flags AS (
    SELECT org_id, app_key, session, 'volume' AS signal FROM exfil_volume
    WHERE rows > threshold OR (day_rows > threshold AND rows >= $day_share * day_rows)
    UNION ALL
    SELECT b.org_id, b.app_key, b.session, 'breadth' FROM breadth b
    JOIN breadth_base u USING (org_id, app_key)
    WHERE b.objects >= $recon_entities
      AND b.objects > $breadth_factor * CASE WHEN u.sessions >= $min_sessions THEN u.usual
                                             ELSE 0 END
)
SELECT f.org_id, f.app_key, f.session, list(DISTINCT f.signal ORDER BY f.signal) AS signals,
       any_value(b.objects) AS objects
FROM flags f LEFT JOIN breadth b USING (org_id, app_key, session)
WHERE EXISTS (SELECT 1 FROM keyed k WHERE k.org_id = f.org_id AND k.app_key = f.app_key
              AND k.session = f.session AND {{scope}})
GROUP BY ALL
"""
