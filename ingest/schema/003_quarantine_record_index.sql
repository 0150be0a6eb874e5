-- Rows rejected from an API page have no file line: they are located by their position in
-- the page instead (issue 7: every rejected row names its origin, line or record index).
ALTER TABLE quarantine ADD COLUMN record_index BIGINT;
