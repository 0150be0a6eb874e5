-- The store's contract between stages. Data flows one way:
-- raw_records / raw_elf  --normalize-->  events  --detect-->  alerts  (+ triage by humans)
-- runs records every stage x unit; quarantine keeps every row that could not be loaded.
--
-- raw_records, raw_elf and events carry no PRIMARY KEY constraint on purpose: DuckDB's ART
-- index doubles the cost of a million-row insert. Their keys (noted per table) are enforced by
-- ingest/load.py, which anti-joins every batch against the table inside one transaction while
-- holding DuckDB's single-writer file lock; tests import every format twice to prove it.

CREATE TABLE runs (
    run_id VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,               -- import | ingest | detect | digest
    unit_id VARCHAR NOT NULL,             -- file path, org alias/source, detector id
    org_id VARCHAR,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status VARCHAR NOT NULL,              -- running | ok | partial | failed | skipped
    rows_read BIGINT NOT NULL DEFAULT 0,
    rows_new BIGINT NOT NULL DEFAULT 0,
    rows_quarantined BIGINT NOT NULL DEFAULT 0,
    error VARCHAR,
    details JSON,
    PRIMARY KEY (run_id, stage, unit_id)
);

-- Key (org_id, source_id, record_id). One row per vendor record, verbatim in payload.
CREATE TABLE raw_records (
    org_id VARCHAR NOT NULL,
    source_id VARCHAR NOT NULL,           -- soql:LoginHistory, soql:OauthToken, partner_token_log, ...
    record_id VARCHAR NOT NULL,
    occurred_at TIMESTAMP,
    payload JSON NOT NULL,
    origin VARCHAR NOT NULL,              -- file path and line, or API resource
    run_id VARCHAR NOT NULL,
    fetched_at TIMESTAMP NOT NULL
);

-- Key (_org_id, _record_id). EventLogFile rows, one VARCHAR column per ELF column exactly as
-- Salesforce named it; ingest/load.py adds a column the first time a header brings a new one,
-- so the table stays lossless across Salesforce releases without a JSON copy of every row.
CREATE TABLE raw_elf (
    _org_id VARCHAR NOT NULL,
    _record_id UHUGEINT NOT NULL,         -- md5 of the row's sorted column=value pairs
    _occurred_at TIMESTAMP,
    _origin VARCHAR NOT NULL,
    _line BIGINT,
    _run_id VARCHAR NOT NULL,
    _fetched_at TIMESTAMP NOT NULL,
    EVENT_TYPE VARCHAR
);

CREATE TABLE quarantine (
    quarantine_id VARCHAR PRIMARY KEY,    -- md5(input fingerprint, line, reason)
    run_id VARCHAR NOT NULL,
    origin VARCHAR NOT NULL,
    line BIGINT,
    reason VARCHAR NOT NULL,
    raw_text VARCHAR,
    quarantined_at TIMESTAMP NOT NULL
);

-- Key event_id. The only table detectors read. One real login seen by several sources
-- (LoginHistory, Login ELF, LoginEvent) is one row; `sources` lists who saw it.
CREATE TABLE events (
    event_id VARCHAR NOT NULL,
    identity_key VARCHAR,                 -- logins: md5(org, user, IP, second, outcome); see normalize.py
    org_id VARCHAR NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    event_type VARCHAR NOT NULL,          -- login | logout | login_as | api_request | token_exchange | token_usage
    grant_type VARCHAR,                   -- refresh_token | authorization_code | jwt_bearer | client_credentials | ...
    is_success BOOLEAN,
    status VARCHAR,
    user_id VARCHAR,
    username VARCHAR,
    app_name VARCHAR,
    connected_app_id VARCHAR,
    source_ip VARCHAR,
    country_iso VARCHAR,
    city VARCHAR,
    latitude DOUBLE,
    longitude DOUBLE,
    login_type VARCHAR,
    login_sub_type VARCHAR,
    user_agent VARCHAR,
    login_key VARCHAR,
    session_key VARCHAR,
    login_history_id VARCHAR,
    request_id VARCHAR,
    api_family VARCHAR,
    api_resource VARCHAR,
    rows_processed BIGINT,
    token_fp VARCHAR,
    new_token_fp VARCHAR,
    worker VARCHAR,
    pkce BOOLEAN,
    error_description VARCHAR,
    use_count BIGINT,
    token_created_at TIMESTAMP,
    sources VARCHAR[] NOT NULL,
    first_run_id VARCHAR NOT NULL,
    ingested_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE alerts (
    alert_id VARCHAR PRIMARY KEY,         -- md5(detector_id, dedup_key): stable across re-detection
    detector_id VARCHAR NOT NULL,
    dedup_key VARCHAR NOT NULL,
    severity VARCHAR NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
    org_id VARCHAR,
    app_name VARCHAR,
    user_id VARCHAR,
    ips VARCHAR[] NOT NULL,
    first_seen_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    event_count BIGINT NOT NULL,
    event_ids VARCHAR[] NOT NULL,
    title VARCHAR NOT NULL,
    summary VARCHAR NOT NULL,
    evidence JSON NOT NULL,
    first_run_id VARCHAR NOT NULL,
    last_run_id VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Human decisions, apart from machine output: detect never writes here.
CREATE TABLE triage (
    alert_id VARCHAR PRIMARY KEY,
    status VARCHAR NOT NULL CHECK (status IN ('new', 'acknowledged', 'resolved', 'false_positive')),
    note VARCHAR,
    analyst VARCHAR,
    updated_at TIMESTAMP NOT NULL
);

