-- Signed webhooks to host apps: subscriptions per API key, events written
-- in the transaction of what they announce, and one delivery row per event
-- and subscription, claimed by workers like the outbox.

CREATE TABLE webhook_subscriptions (
	id          TEXT PRIMARY KEY,
	api_key_id  TEXT NOT NULL,
	url         TEXT NOT NULL,
	secret      {{bytes}} NOT NULL, -- sealed with the server key
	types       TEXT NOT NULL,      -- space-separated event types, with a space at each end
	created_at  BIGINT NOT NULL,
	disabled_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX webhook_subscriptions_key ON webhook_subscriptions (api_key_id);

CREATE TABLE webhook_events (
	id         TEXT PRIMARY KEY,
	type       TEXT NOT NULL,
	account_id TEXT NOT NULL DEFAULT '',
	body       TEXT NOT NULL, -- the JSON body every delivery sends
	created_at BIGINT NOT NULL
);
CREATE INDEX webhook_events_created ON webhook_events (created_at);

CREATE TABLE webhook_deliveries (
	id              TEXT PRIMARY KEY,
	event_id        TEXT NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
	subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
	status          TEXT NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at BIGINT NOT NULL DEFAULT 0,
	lease_until     BIGINT NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT '',
	created_at      BIGINT NOT NULL,
	delivered_at    BIGINT NOT NULL DEFAULT 0,
	failed_at       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_sub ON webhook_deliveries (subscription_id, status, created_at);
