-- What an API call read, kept from the API, RestApi, BulkApi and BulkApi2 event log files so
-- the data_exfiltration detector and the blast radius can say which objects a session read
-- or exported, in which Bulk job. ingest/normalize.py fills them; older rows stay NULL (their
-- raw_elf rows still hold the values: re-import to fill them).
ALTER TABLE events ADD COLUMN entity_name VARCHAR;  -- ENTITY_NAME (API, RestApi, ApiTotalUsage) or ENTITY_TYPE (Bulk)
ALTER TABLE events ADD COLUMN uri VARCHAR;          -- URI of an API row (REST: a query's later pages name only the locator)
ALTER TABLE events ADD COLUMN operation VARCHAR;    -- OPERATION_TYPE (Bulk), METHOD_NAME (SOAP), METHOD / HTTP_METHOD (REST)
ALTER TABLE events ADD COLUMN job_id VARCHAR;       -- JOB_ID (Bulk API 1.0 and 2.0)
ALTER TABLE events ADD COLUMN job_status VARCHAR;   -- JOB_STATUS (BulkApi2: one row per job-state change)
