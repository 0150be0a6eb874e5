-- Who runs a run: the process (pid, host, when it started) and its last sign of life, so a run
-- whose process died (kill -9, OOM, reboot) reads as `interrupted` instead of `running` forever.
ALTER TABLE runs ADD COLUMN owner_pid INTEGER;
ALTER TABLE runs ADD COLUMN owner_host VARCHAR;
ALTER TABLE runs ADD COLUMN owner_started_at TIMESTAMP;  -- the process's start (pid reuse)
ALTER TABLE runs ADD COLUMN heartbeat_at TIMESTAMP;      -- wall clock, UTC
