-- The dev outbox (--dev only): what would have been sent, with the code in
-- clear so people and scripts can sign in without a provider. Never written
-- in production; the messages row keeps the delivery status.
CREATE TABLE dev_messages (
	message_id  TEXT PRIMARY KEY,
	channel     TEXT NOT NULL,
	destination TEXT NOT NULL,
	template    TEXT NOT NULL,
	lang        TEXT NOT NULL,
	subject     TEXT NOT NULL DEFAULT '',
	body        TEXT NOT NULL,
	code        TEXT NOT NULL DEFAULT '',
	created_at  BIGINT NOT NULL
);
CREATE INDEX dev_messages_created ON dev_messages (created_at);
