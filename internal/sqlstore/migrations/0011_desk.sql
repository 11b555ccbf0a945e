-- Support desk (issue 6): bypass grants, cases and their threads, the
-- knowledge host apps supply for identity checks, the checks agents ran,
-- and agents' second factor and sessions.

-- A grant skips one step (e.g. "verify_phone") of one account once, inside
-- [created_at, expires_at). used_at is 0 until used.
CREATE TABLE grants (
	id         TEXT PRIMARY KEY,
	account_id TEXT NOT NULL,
	step       TEXT NOT NULL,
	created_by TEXT NOT NULL,
	case_id    TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	used_at    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX grants_account ON grants (account_id, step, used_at, expires_at);

-- A case. merge_key is the account id (or, for an identifier that matched
-- no account, the identifier) a repeat request must share to be merged.
CREATE TABLE cases (
	id             TEXT PRIMARY KEY,
	ref            TEXT NOT NULL,
	account_id     TEXT NOT NULL DEFAULT '',
	merge_key      TEXT NOT NULL,
	category       TEXT NOT NULL,
	status         TEXT NOT NULL,
	lang           TEXT NOT NULL,
	identifier     TEXT NOT NULL,
	contact        TEXT NOT NULL,
	platform       TEXT NOT NULL DEFAULT '',
	device         TEXT NOT NULL DEFAULT '',
	description    TEXT NOT NULL,
	requests       INTEGER NOT NULL DEFAULT 1,
	created_at     BIGINT NOT NULL,
	updated_at     BIGINT NOT NULL,
	first_reply_at BIGINT NOT NULL DEFAULT 0,
	resolved_at    BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX cases_ref ON cases (ref);
CREATE INDEX cases_merge ON cases (merge_key, category, status);
CREATE INDEX cases_queue ON cases (status, created_at);
CREATE INDEX cases_account ON cases (account_id, created_at);

CREATE TABLE case_messages (
	id      TEXT PRIMARY KEY,
	case_id TEXT NOT NULL,
	at      BIGINT NOT NULL,
	author  TEXT NOT NULL,
	kind    TEXT NOT NULL,
	body    TEXT NOT NULL,
	lang    TEXT NOT NULL DEFAULT '',
	status  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX case_messages_case ON case_messages (case_id, at);

-- What the host app knows about an account, as HMAC-SHA-256 keyed hashes
-- of normalised values: agents' checks compare hashes, never values.
CREATE TABLE account_knowledge (
	account_id TEXT NOT NULL,
	field      TEXT NOT NULL,
	hash       {{bytes}} NOT NULL,
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (account_id, field)
);

CREATE TABLE identity_checks (
	id         {{autoid}},
	case_id    TEXT NOT NULL,
	account_id TEXT NOT NULL,
	agent_id   TEXT NOT NULL,
	field      TEXT NOT NULL,
	matched    BOOLEAN NOT NULL,
	at         BIGINT NOT NULL
);
CREATE INDEX identity_checks_case ON identity_checks (case_id, at);

-- Agents' mandatory authenticator app (sealed secret, last accepted step).
ALTER TABLE agents ADD COLUMN totp_secret {{bytes}};
ALTER TABLE agents ADD COLUMN totp_step BIGINT NOT NULL DEFAULT 0;

-- Agent console sessions: level 1 after the password, 2 after the
-- authenticator code; short-lived.
CREATE TABLE agent_sessions (
	id           TEXT PRIMARY KEY,
	token_hash   {{bytes}} NOT NULL,
	agent_id     TEXT NOT NULL,
	level        INTEGER NOT NULL,
	created_at   BIGINT NOT NULL,
	last_seen_at BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL,
	revoked_at   BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX agent_sessions_token ON agent_sessions (token_hash);
