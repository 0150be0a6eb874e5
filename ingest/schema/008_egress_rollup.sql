-- Refresh-token egress per org x app x address x UTC day: the Apps page's table, kept after
-- detect so the page sums thousands of rows instead of scanning millions of events.
-- Derived from events only (dashboard/queries/rollups.py); dropping it loses nothing.
CREATE TABLE egress_daily (
    org_id VARCHAR NOT NULL,
    app VARCHAR NOT NULL,                 -- coalesce(app_name, inferred_app, '(unknown app)')
    ip VARCHAR NOT NULL,
    day DATE NOT NULL,
    uses BIGINT NOT NULL,
    failures BIGINT NOT NULL,
    first_seen_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL
);

-- How far each roll-up has read `events` (by events.updated_at): the next refresh recomputes
-- only the days of rows changed since.
CREATE TABLE rollup_state (
    name VARCHAR PRIMARY KEY,
    events_through TIMESTAMP,
    refreshed_at TIMESTAMP NOT NULL
);
