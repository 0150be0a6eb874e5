-- Shield Threat Detection findings (SessionHijackingEventStore, CredentialStuffingEventStore,
-- ApiAnomalyEventStore, ReportAnomalyEventStore) as events of type 'threat_detection'.
-- ingest/formats/threat.py fills them; every other event leaves them NULL. Additive only.
ALTER TABLE events ADD COLUMN threat_kind VARCHAR;     -- session_hijacking | credential_stuffing | api_anomaly | report_anomaly
ALTER TABLE events ADD COLUMN threat_score DOUBLE;     -- Salesforce's Score, as delivered
ALTER TABLE events ADD COLUMN threat_summary VARCHAR;  -- Salesforce's Summary (free text, attacker-influenced)
ALTER TABLE events ADD COLUMN threat_data VARCHAR;     -- SecurityEventData ("Event Data"): JSON text, kept verbatim
ALTER TABLE events ADD COLUMN threat_context VARCHAR;  -- JSON of the object's own fields (PreviousIp, CurrentIp, Report, Operation, ...)
ALTER TABLE events ADD COLUMN policy_outcome VARCHAR;  -- PolicyOutcome of the transaction security policy (Block, Notified, NoAction, ...)
