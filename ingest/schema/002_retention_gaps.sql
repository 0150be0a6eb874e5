-- Stretches of a source's history that Salesforce no longer keeps and tokensentry never fetched:
-- the time since the last successful fetch outgrew the source's retention (ingest/retention.py).
-- The dashboard and the digest read it through ingest.retention.read_gaps.
CREATE TABLE retention_gaps (
    org_id VARCHAR NOT NULL,
    source_id VARCHAR NOT NULL,           -- ingest source: login_history, event_log_file, ...
    gap_start TIMESTAMP NOT NULL,         -- the last successful fetch
    gap_end TIMESTAMP NOT NULL,           -- the oldest moment Salesforce still keeps
    retention_days INTEGER NOT NULL,
    licence VARCHAR NOT NULL,             -- free | event_monitoring | any
    verified BOOLEAN NOT NULL,            -- false: the retention figure is not confirmed in Salesforce's docs
    run_id VARCHAR NOT NULL,
    detected_at TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, source_id, gap_start)
);
