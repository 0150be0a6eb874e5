-- Who the user ids are. Two kinds of row per org × user:
--   source 'User'  : Salesforce's User object (Username, Name, IsActive, Profile.Name), read by
--                    the `user` ingest source for the users the events mention (ingest/users.py);
--   source 'event' : the username a log carried beside the id (EventLogFile USER_NAME, the OAuth
--                    usage resources' username), kept by the loader as events arrive, so an
--                    imported file names its users without any API.
-- `user_directory` is the one answer every surface reads: the User row's values, else the log's.
CREATE TABLE users (
    org_id VARCHAR NOT NULL,
    user_id VARCHAR NOT NULL,             -- 18 characters
    source VARCHAR NOT NULL CHECK (source IN ('User', 'event')),
    username VARCHAR,
    name VARCHAR,
    is_active BOOLEAN,
    profile_name VARCHAR,
    modified_at TIMESTAMP,                -- User.LastModifiedDate; 'event': the newest event naming it
    read_at TIMESTAMP NOT NULL,           -- when this row was last read or confirmed
    run_id VARCHAR NOT NULL,
    PRIMARY KEY (org_id, user_id, source)
);

-- A store built before this migration: the names its events already carry.
INSERT INTO users (org_id, user_id, source, username, modified_at, read_at, run_id)
SELECT org_id, user_id, 'event', arg_max(username, occurred_at), max(occurred_at), now(),
       'migration-011'
FROM events WHERE user_id IS NOT NULL AND username IS NOT NULL AND username <> ''
GROUP BY org_id, user_id;

CREATE VIEW user_directory AS
SELECT org_id, user_id,
       coalesce(max(username) FILTER (WHERE source = 'User'),
                max(username) FILTER (WHERE source = 'event')) AS username,
       max(name) FILTER (WHERE source = 'User') AS name,
       bool_or(is_active) FILTER (WHERE source = 'User') AS is_active,
       max(profile_name) FILTER (WHERE source = 'User') AS profile_name,
       bool_or(source = 'User') AS from_user_object
FROM users
GROUP BY org_id, user_id;
