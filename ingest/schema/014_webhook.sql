-- What the nightly job posted to each webhook ([webhooks.NAME]), so each alert state is posted
-- once, through restarts, and a post the receiver did not acknowledge is resent unchanged.
-- Additive only.
--
-- One row per webhook and alert state (alert_id, severity: the digest's notion of a state). The
-- row is written 'pending' with the exact body before the first attempt; it becomes 'delivered'
-- only after a 2xx answer. A pending row is resent with the same body and the same idempotency
-- key (derived from alert id + severity), so a receiver that saw the first copy can drop the
-- second. The webhook's URL and key are secrets: neither is stored, its name is.
CREATE TABLE webhook_deliveries (
    webhook VARCHAR NOT NULL,
    idempotency_key VARCHAR NOT NULL,
    alert_id VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    kind VARCHAR NOT NULL CHECK (kind IN ('json', 'slack')),
    body BLOB NOT NULL,
    status VARCHAR NOT NULL CHECK (status IN ('pending', 'delivered')),
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    last_attempt_at TIMESTAMP,
    delivered_at TIMESTAMP,
    http_status INTEGER,                  -- the last answer's status code, when there was one
    error VARCHAR,                        -- why the last attempt was not acknowledged
    PRIMARY KEY (webhook, idempotency_key)
);
