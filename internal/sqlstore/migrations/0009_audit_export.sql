-- Audit export: API keys that may use the admin API, and time-range reads
-- of the audit log.

ALTER TABLE api_keys ADD COLUMN admin BOOLEAN NOT NULL DEFAULT FALSE;

CREATE INDEX audit_events_at ON audit_events (at, id);
