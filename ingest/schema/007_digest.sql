-- The digest's memory of what it has told the security team, so each alert state is mailed
-- exactly once. Additive only.

-- One row per delivery attempt. An attempt counts as delivered only once `status = 'sent'`,
-- written after the SMTP server accepted the message. A row left in 'sending' means the process
-- died between handing the message over and recording the answer: the next run re-sends the
-- stored bytes (same Message-ID, so mail systems drop the copy) instead of a different mail.
CREATE TABLE digests (
    attempt_id VARCHAR PRIMARY KEY,
    message_id VARCHAR NOT NULL,           -- derived from what the digest covers
    status VARCHAR NOT NULL CHECK (status IN ('sending', 'sent', 'failed')),
    covers_since TIMESTAMP NOT NULL,       -- lower bound of the alerts it looked at
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP,
    recipients VARCHAR[] NOT NULL,
    alert_count BIGINT NOT NULL,
    partial BOOLEAN NOT NULL,
    message BLOB NOT NULL,                 -- the exact bytes handed to the server
    error VARCHAR
);

-- The alert states an attempt covers: an alert in the same severity is never mailed twice
-- (unless --resend); one that rose in severity is a new state and is mailed again.
CREATE TABLE digest_items (
    attempt_id VARCHAR NOT NULL,
    alert_id VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    incident_id VARCHAR,
    PRIMARY KEY (attempt_id, alert_id)
);
