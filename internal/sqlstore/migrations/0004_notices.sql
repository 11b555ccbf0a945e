-- The message center: every notice (codes excepted) an account was sent,
-- with the reference code its email/SMS carries. Messages point back to
-- their notice, so the public check page can say where a notice went.

CREATE TABLE notices (
	id         TEXT PRIMARY KEY,
	ref        TEXT NOT NULL,
	account_id TEXT NOT NULL,
	topic      TEXT NOT NULL,
	lang       TEXT NOT NULL,
	params     TEXT, -- JSON object, NULL when empty
	created_at BIGINT NOT NULL,
	read_at    BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX notices_ref ON notices (ref);
CREATE INDEX notices_account ON notices (account_id, created_at);

ALTER TABLE messages ADD COLUMN notice_id TEXT NOT NULL DEFAULT '';
CREATE INDEX messages_notice ON messages (notice_id) WHERE notice_id <> '';
