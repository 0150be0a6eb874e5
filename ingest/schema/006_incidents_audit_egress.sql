-- Incidents (computed by detect), the audit trail of human decisions, and the known egress
-- analysts record. Additive only: 001's tables are untouched.

-- One row per incident, its aggregates refreshed by detect/incidents.py at the end of every
-- detect run (pre-aggregated so the queue is one scan of a small table). The status is not
-- stored: it follows from the triage of the alerts the incident holds (dashboard/queries).
CREATE TABLE incidents (
    incident_id VARCHAR PRIMARY KEY,      -- its first alert's id; never changes
    org_id VARCHAR,                       -- null for a cross_org incident (many orgs)
    severity VARCHAR NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
    app_name VARCHAR,
    user_id VARCHAR,
    ips VARCHAR[] NOT NULL,
    detectors VARCHAR[] NOT NULL,
    first_seen_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    alert_count BIGINT NOT NULL,
    summary VARCHAR NOT NULL,
    linked_incidents VARCHAR[] NOT NULL,  -- cross_org: the per-org incidents it summarises
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Membership: an alert joins one incident once and stays there.
CREATE TABLE incident_alerts (
    alert_id VARCHAR PRIMARY KEY,
    incident_id VARCHAR NOT NULL,
    link VARCHAR NOT NULL,                -- why it joined: first | ip:<addr> | token:<fp> | user:<id> | app:<name>
    joined_at TIMESTAMP NOT NULL
);

-- Every triage change, appended, never updated: who, when, from -> to, note, and where from.
-- A change made to an incident writes one row for the incident and one per alert it held.
CREATE TABLE audit_log (
    audit_id VARCHAR PRIMARY KEY,         -- random (uuid4): two identical decisions are two lines
    changed_at TIMESTAMP NOT NULL,
    analyst VARCHAR NOT NULL,
    target_kind VARCHAR NOT NULL CHECK (target_kind IN ('alert', 'incident')),
    target_id VARCHAR NOT NULL,
    incident_id VARCHAR,                  -- the incident the change went through, if any
    from_status VARCHAR NOT NULL,
    to_status VARCHAR NOT NULL,
    note VARCHAR,
    via VARCHAR NOT NULL                  -- cli | dashboard | notebook | api
);

-- Addresses an analyst judged to be the partner's own egress, for a limited time. Detectors and
-- incident linking treat them like allowlisted addresses until they expire or are removed.
CREATE TABLE known_egress (
    egress_id VARCHAR PRIMARY KEY,
    network VARCHAR NOT NULL,             -- an address, a CIDR or start-end (Salesforce's form)
    app_name VARCHAR,                     -- null: whichever app uses it
    note VARCHAR,
    added_by VARCHAR NOT NULL,
    added_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    removed_by VARCHAR,
    removed_at TIMESTAMP
);

-- Controls readiness computed for the default window (the last 30 days of data) after detect,
-- so the controls page reads a few rows instead of scanning 30 days of events. Keyed by the
-- window and the apps' allowlists it was computed with; any other window is computed live.
-- Monitoring is never stored: it depends on the wall clock, and is recomputed on every read.
CREATE TABLE controls_snapshot (
    window_start TIMESTAMP NOT NULL,
    window_end TIMESTAMP NOT NULL,
    config_key VARCHAR NOT NULL,          -- md5 of the configured apps and their allowlists
    computed_at TIMESTAMP NOT NULL,
    app VARCHAR NOT NULL,
    org_id VARCHAR NOT NULL,
    control VARCHAR NOT NULL,
    verdict VARCHAR,                      -- null: judged at read time (monitoring)
    reason VARCHAR,
    counter_examples BIGINT NOT NULL,
    positive_evidence BIGINT NOT NULL,
    evidence JSON NOT NULL
);
