-- The audit trail also records known egress an analyst forced past its safety checks (a block
-- wider than a /24 or an IPv6 /64, an app nobody configured or saw, an expiry past 365 days):
-- target_kind 'egress', target_id the egress_id, the note saying what was overridden.
-- DuckDB cannot alter a CHECK constraint, so the table is rebuilt with every row kept.
CREATE TABLE audit_log_010 (
    audit_id VARCHAR PRIMARY KEY,
    changed_at TIMESTAMP NOT NULL,
    analyst VARCHAR NOT NULL,
    target_kind VARCHAR NOT NULL CHECK (target_kind IN ('alert', 'incident', 'egress')),
    target_id VARCHAR NOT NULL,
    incident_id VARCHAR,
    from_status VARCHAR NOT NULL,
    to_status VARCHAR NOT NULL,
    note VARCHAR,
    via VARCHAR NOT NULL
);
INSERT INTO audit_log_010 SELECT * FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_010 RENAME TO audit_log;
