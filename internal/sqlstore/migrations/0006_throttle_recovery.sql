-- Sign-in throttling, login help (recovery) and contact changes with their
-- "this wasn't me" undo.

-- One counter per key: "pwd:acct:<account>:any" (devices the account does
-- not know), "pwd:acct:<account>:dev:<device>" (one it knows),
-- "pwd:id:<hash>" (an identifier that names no account).
CREATE TABLE throttle_counters (
	key             TEXT PRIMARY KEY,
	failures        INTEGER NOT NULL DEFAULT 0,
	last_failure_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX throttle_counters_last ON throttle_counters (last_failure_at);

-- One login-help attempt. account_id is '' when the identifier named no
-- account: the attempt then looks and answers exactly like a real one but
-- no code exists, so every code is wrong. checks counts those wrong codes.
CREATE TABLE recoveries (
	id           TEXT PRIMARY KEY,
	account_id   TEXT NOT NULL DEFAULT '',
	device_id    TEXT NOT NULL DEFAULT '',
	flow_id      TEXT NOT NULL DEFAULT '',
	channel      TEXT NOT NULL,
	shown        TEXT NOT NULL DEFAULT '',
	checks       INTEGER NOT NULL DEFAULT 0,
	code_at      BIGINT NOT NULL DEFAULT 0,
	second_at    BIGINT NOT NULL DEFAULT 0,
	completed_at BIGINT NOT NULL DEFAULT 0,
	created_at   BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL
);
CREATE INDEX recoveries_account ON recoveries (account_id, created_at);

-- An email or phone change: pending until the new contact's code is
-- entered; then undo_hash (SHA-256 of the token in the "this wasn't me"
-- link sent to the old contacts) restores old_value until undo_expires_at.
CREATE TABLE contact_changes (
	id              TEXT PRIMARY KEY,
	account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	kind            TEXT NOT NULL,
	old_value       TEXT NOT NULL DEFAULT '',
	old_verified    BOOLEAN NOT NULL DEFAULT FALSE,
	new_value       TEXT NOT NULL,
	flow_id         TEXT NOT NULL,
	session_id      TEXT NOT NULL DEFAULT '',
	undo_hash       {{bytes}},
	created_at      BIGINT NOT NULL,
	completed_at    BIGINT NOT NULL DEFAULT 0,
	undo_expires_at BIGINT NOT NULL DEFAULT 0,
	undone_at       BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX contact_changes_undo ON contact_changes (undo_hash);
CREATE INDEX contact_changes_account ON contact_changes (account_id, created_at);
