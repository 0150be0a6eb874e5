-- App attribution for login events whose log named no app (the Login event log file has no app
-- column). detect/attribution.py writes these before the detectors run; ingest never does, and
-- app_name stays the logged fact: detectors read coalesce(app_name, inferred_app) and say
-- "inferred" whenever app_name is null.
ALTER TABLE events ADD COLUMN inferred_app VARCHAR;        -- most likely app, null when none or ambiguous
ALTER TABLE events ADD COLUMN app_inferred_reason VARCHAR; -- which evidence, or why no guess was made
ALTER TABLE events ADD COLUMN app_confidence DOUBLE;       -- 0..1: session 0.95, token owner 0.8, user agent 0.5
