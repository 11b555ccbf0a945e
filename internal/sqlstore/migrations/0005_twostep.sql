-- 2-step verification: second factors, recovery codes, pending sign-ins
-- (new device / 2-step) with their approve-or-deny prompts, WebAuthn
-- ceremonies and recent re-authentications.

-- secret: the TOTP seed sealed with the server key, or a passkey's public
-- credential (JSON); credential_id: a passkey's id, for assertion lookup.
CREATE TABLE factors (
	id            TEXT PRIMARY KEY,
	account_id    TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	kind          TEXT NOT NULL,
	name          TEXT NOT NULL DEFAULT '',
	secret        {{bytes}},
	credential_id TEXT,
	last_step     BIGINT NOT NULL DEFAULT 0, -- TOTP: the last accepted time step (replay guard)
	sign_count    BIGINT NOT NULL DEFAULT 0,
	created_at    BIGINT NOT NULL,
	confirmed_at  BIGINT NOT NULL DEFAULT 0,
	last_used_at  BIGINT NOT NULL DEFAULT 0,
	disabled_at   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX factors_account ON factors (account_id, created_at);
CREATE UNIQUE INDEX factors_credential ON factors (credential_id);

-- hash: HMAC-SHA256(server key, account id | code); each row is one code.
CREATE TABLE recovery_codes (
	factor_id  TEXT NOT NULL REFERENCES factors (id) ON DELETE CASCADE,
	account_id TEXT NOT NULL,
	hash       {{bytes}} NOT NULL,
	used_at    BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (account_id, hash)
);
CREATE INDEX recovery_codes_factor ON recovery_codes (factor_id);

-- A sign-in whose password was right but which needs a second proof.
-- state: pending → approved (a trusted session said yes) → completed, or
-- denied / expired. secret_hash: SHA-256 of the secret the waiting browser
-- (cookie) or app holds; link_hash: of the one-time approval link's secret.
CREATE TABLE pending_signins (
	id                  TEXT PRIMARY KEY,
	secret_hash         {{bytes}} NOT NULL,
	account_id          TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	device_id           TEXT NOT NULL,
	kind                TEXT NOT NULL,
	ip                  TEXT NOT NULL DEFAULT '',
	user_agent          TEXT NOT NULL DEFAULT '',
	reason              TEXT NOT NULL,
	state               TEXT NOT NULL,
	flow_id             TEXT NOT NULL DEFAULT '',
	methods             TEXT NOT NULL DEFAULT '',
	approval_asked_at   BIGINT NOT NULL DEFAULT 0,
	approval_expires_at BIGINT NOT NULL DEFAULT 0,
	link_hash           {{bytes}},
	decided_by          TEXT NOT NULL DEFAULT '',
	decided_at          BIGINT NOT NULL DEFAULT 0,
	created_at          BIGINT NOT NULL,
	expires_at          BIGINT NOT NULL,
	completed_at        BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX pending_signins_account ON pending_signins (account_id, created_at);

-- A WebAuthn registration or assertion in progress: the challenge and its
-- options (JSON), usable once before expires_at.
CREATE TABLE webauthn_ceremonies (
	id         TEXT PRIMARY KEY,
	account_id TEXT NOT NULL DEFAULT '',
	kind       TEXT NOT NULL,
	data       TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	used_at    BIGINT NOT NULL DEFAULT 0
);

-- The last time a session proved the password again, for sensitive changes.
CREATE TABLE session_reauth (
	session_id TEXT PRIMARY KEY,
	at         BIGINT NOT NULL
);
