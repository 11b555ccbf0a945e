-- One-time codes, their flows, windowed limit counters and the outbox.

CREATE TABLE flows (
	id           TEXT PRIMARY KEY,
	account_id   TEXT NOT NULL DEFAULT '',
	purpose      TEXT NOT NULL,
	channel      TEXT NOT NULL,
	destination  TEXT NOT NULL,
	sends        INTEGER NOT NULL DEFAULT 0,
	failures     INTEGER NOT NULL DEFAULT 0,
	next_send_at BIGINT NOT NULL DEFAULT 0,
	created_at   BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL,
	completed_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX flows_account ON flows (account_id, created_at);

CREATE TABLE codes (
	id         TEXT PRIMARY KEY,
	flow_id    TEXT NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
	hash       {{bytes}} NOT NULL,
	checks     INTEGER NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	used_at    BIGINT NOT NULL DEFAULT 0,
	message_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX codes_flow ON codes (flow_id, created_at);

-- Fixed-window counters: one row per key and window start, bumped with an
-- atomic upsert, so limits hold across nodes. Old windows are pruned.
CREATE TABLE limit_counters (
	key          TEXT NOT NULL,
	window_start BIGINT NOT NULL,
	n            INTEGER NOT NULL,
	expires_at   BIGINT NOT NULL,
	PRIMARY KEY (key, window_start)
);
CREATE INDEX limit_counters_expires ON limit_counters (expires_at);

-- The durable outbox: written in the same transaction as what it announces.
CREATE TABLE messages (
	id              TEXT PRIMARY KEY,
	account_id      TEXT NOT NULL DEFAULT '',
	flow_id         TEXT NOT NULL DEFAULT '',
	channel         TEXT NOT NULL,
	destination     TEXT NOT NULL,
	template        TEXT NOT NULL,
	lang            TEXT NOT NULL,
	payload         {{bytes}},
	status          TEXT NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at BIGINT NOT NULL DEFAULT 0,
	lease_until     BIGINT NOT NULL DEFAULT 0,
	provider        TEXT NOT NULL DEFAULT '',
	provider_id     TEXT NOT NULL DEFAULT '',
	reason          TEXT NOT NULL DEFAULT '',
	created_at      BIGINT NOT NULL,
	sent_at         BIGINT NOT NULL DEFAULT 0,
	delivered_at    BIGINT NOT NULL DEFAULT 0,
	failed_at       BIGINT NOT NULL DEFAULT 0,
	expires_at      BIGINT NOT NULL DEFAULT 0,
	updated_at      BIGINT NOT NULL
);
CREATE INDEX messages_due ON messages (status, next_attempt_at);
CREATE INDEX messages_flow ON messages (flow_id, created_at);
CREATE INDEX messages_account ON messages (account_id, created_at);
CREATE INDEX messages_provider ON messages (provider, provider_id);
