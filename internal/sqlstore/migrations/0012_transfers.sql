-- Moving an account to a new device (issue 7). kind: binding (the old
-- device shows a one-time code) or lost (password and a second proof).
-- state: offered | pending → approved → completed, or cancelled / expired.
-- binding_hash: HMAC-SHA256(server key, binding code), looked up when the
-- new device enters it; secret_hash: SHA-256 of the lost-path handle the
-- new device holds. At most one open transfer per account: the partial
-- unique index makes two parallel starts end with one winner.
CREATE TABLE transfers (
	id                 TEXT PRIMARY KEY,
	account_id         TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	kind               TEXT NOT NULL,
	state              TEXT NOT NULL,
	method             TEXT NOT NULL DEFAULT '',
	binding_hash       {{bytes}},
	secret_hash        {{bytes}},
	old_device_id      TEXT NOT NULL DEFAULT '',
	old_session_id     TEXT NOT NULL DEFAULT '',
	new_device_id      TEXT NOT NULL DEFAULT '',
	new_device_label   TEXT NOT NULL DEFAULT '',
	new_kind           TEXT NOT NULL DEFAULT '',
	new_session_id     TEXT NOT NULL DEFAULT '',
	ip                 TEXT NOT NULL DEFAULT '',
	user_agent         TEXT NOT NULL DEFAULT '',
	lang               TEXT NOT NULL DEFAULT '',
	pending_id         TEXT NOT NULL DEFAULT '',
	flow_id            TEXT NOT NULL DEFAULT '',
	phone_confirmed_at BIGINT NOT NULL DEFAULT 0,
	created_at         BIGINT NOT NULL,
	expires_at         BIGINT NOT NULL,
	approved_at        BIGINT NOT NULL DEFAULT 0,
	completed_at       BIGINT NOT NULL DEFAULT 0,
	ended_at           BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX transfers_open ON transfers (account_id) WHERE state IN ('offered', 'pending', 'approved');
CREATE UNIQUE INDEX transfers_binding ON transfers (binding_hash) WHERE binding_hash IS NOT NULL;
CREATE INDEX transfers_account ON transfers (account_id, created_at);
