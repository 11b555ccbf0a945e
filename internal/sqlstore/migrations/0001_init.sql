-- Foundation: accounts, identifiers, sessions, devices, audit, API keys, agents.
-- Times are BIGINT unix microseconds (UTC), 0 for "never".

CREATE TABLE accounts (
	id            TEXT PRIMARY KEY,
	status        TEXT NOT NULL,
	password_hash TEXT NOT NULL DEFAULT '',
	two_step      BOOLEAN NOT NULL DEFAULT FALSE,
	lang          TEXT NOT NULL DEFAULT '',
	created_at    BIGINT NOT NULL,
	updated_at    BIGINT NOT NULL
);

CREATE TABLE identifiers (
	kind       TEXT NOT NULL,
	value      TEXT NOT NULL,
	account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	verified   BOOLEAN NOT NULL DEFAULT FALSE,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (kind, value, account_id)
);
-- Usernames and emails belong to one account; a phone may be shared
-- (capped in code at monban.MaxAccountsPerPhone).
CREATE UNIQUE INDEX identifiers_unique_kind_value ON identifiers (kind, value) WHERE kind <> 'phone';
CREATE INDEX identifiers_account ON identifiers (account_id);

CREATE TABLE devices (
	account_id    TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	id            TEXT NOT NULL,
	kind          TEXT NOT NULL,
	label         TEXT NOT NULL DEFAULT '',
	created_at    BIGINT NOT NULL,
	last_seen_at  BIGINT NOT NULL,
	trusted_until BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (account_id, id)
);

CREATE TABLE sessions (
	id           TEXT PRIMARY KEY,
	token_hash   {{bytes}} NOT NULL,
	account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	device_id    TEXT NOT NULL DEFAULT '',
	kind         TEXT NOT NULL,
	auth_level   INTEGER NOT NULL,
	methods      TEXT NOT NULL DEFAULT '', -- space-separated, e.g. "pwd otp"
	ip           TEXT NOT NULL DEFAULT '',
	user_agent   TEXT NOT NULL DEFAULT '',
	created_at   BIGINT NOT NULL,
	last_seen_at BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL,
	revoked_at   BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX sessions_token_hash ON sessions (token_hash);
CREATE INDEX sessions_account ON sessions (account_id, created_at);

-- Append-only. No foreign keys: the log outlives what it mentions.
CREATE TABLE audit_events (
	id         {{autoid}},
	at         BIGINT NOT NULL,
	account_id TEXT NOT NULL DEFAULT '',
	agent_id   TEXT NOT NULL DEFAULT '',
	action     TEXT NOT NULL,
	ip         TEXT NOT NULL DEFAULT '',
	user_agent TEXT NOT NULL DEFAULT '',
	detail     TEXT -- JSON object, NULL when empty
);
CREATE INDEX audit_events_account ON audit_events (account_id, id);
CREATE INDEX audit_events_agent ON audit_events (agent_id, id);

CREATE TABLE api_keys (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	hash       {{bytes}} NOT NULL,
	created_at BIGINT NOT NULL,
	revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX api_keys_hash ON api_keys (hash);

CREATE TABLE agents (
	id            TEXT PRIMARY KEY,
	username      TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	role          TEXT NOT NULL,
	created_at    BIGINT NOT NULL,
	disabled_at   BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX agents_username ON agents (username);
