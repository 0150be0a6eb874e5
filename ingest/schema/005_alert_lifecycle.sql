-- Alert lifecycle (issue 8, item 6). Additive only.
-- superseded_at: `detect --all` re-graded an alert nobody had triaged and the detector no longer
--   finds it (its verdict changed); hidden by default, never deleted.
-- superseded_by_run: the detect run that found it no longer held.
-- reopens_alert_id: this alert is new activity on a finding an analyst had resolved or marked
--   false positive; the old alert and its triage stay exactly as the analyst left them.
ALTER TABLE alerts ADD COLUMN superseded_at TIMESTAMP;
ALTER TABLE alerts ADD COLUMN superseded_by_run VARCHAR;
ALTER TABLE alerts ADD COLUMN reopens_alert_id VARCHAR;
