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

-- How far each roll-up has read `events`: the newest updated_at and the row count it saw. The
-- next refresh recomputes only the days of rows changed since; a count that moved without a
-- newer updated_at (rows written with an old stamp) rebuilds the whole roll-up.
CREATE TABLE rollup_state (
    name VARCHAR PRIMARY KEY,
    events_through TIMESTAMP,
    events_count BIGINT NOT NULL,
    refreshed_at TIMESTAMP NOT NULL
);
