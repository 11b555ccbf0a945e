-- OpenID Connect provider: registered relying parties, authorization
-- requests, their codes, issued tokens and the ID-token signing keys.
-- Lists (redirect URIs, scopes, amr) are space-separated: none of their
-- items may contain a space.

CREATE TABLE oidc_clients (
	id               TEXT PRIMARY KEY,
	name             TEXT NOT NULL,
	secret_hash      {{bytes}},            -- NULL for a public client
	redirect_uris    TEXT NOT NULL,
	post_logout_uris TEXT NOT NULL DEFAULT '',
	scopes           TEXT NOT NULL DEFAULT '',
	public           BOOLEAN NOT NULL DEFAULT FALSE,
	first_party      BOOLEAN NOT NULL DEFAULT FALSE,
	created_at       BIGINT NOT NULL
);

CREATE TABLE oidc_auth_requests (
	id             TEXT PRIMARY KEY,
	client_id      TEXT NOT NULL,
	redirect_uri   TEXT NOT NULL,
	state          TEXT NOT NULL DEFAULT '',
	nonce          TEXT NOT NULL DEFAULT '',
	scopes         TEXT NOT NULL DEFAULT '',
	response_type  TEXT NOT NULL,
	response_mode  TEXT NOT NULL DEFAULT '',
	code_challenge TEXT NOT NULL DEFAULT '',
	code_method    TEXT NOT NULL DEFAULT '',
	prompt         TEXT NOT NULL DEFAULT '',
	max_age        BIGINT NOT NULL DEFAULT -1,
	ui_locales     TEXT NOT NULL DEFAULT '',
	login_hint     TEXT NOT NULL DEFAULT '',
	account_id     TEXT NOT NULL DEFAULT '',
	session_id     TEXT NOT NULL DEFAULT '',
	auth_time      BIGINT NOT NULL DEFAULT 0,
	amr            TEXT NOT NULL DEFAULT '',
	acr            TEXT NOT NULL DEFAULT '',
	done_at        BIGINT NOT NULL DEFAULT 0,
	created_at     BIGINT NOT NULL,
	expires_at     BIGINT NOT NULL
);
CREATE INDEX oidc_auth_requests_expires ON oidc_auth_requests (expires_at);

-- A code is stored as a hash and used once; a second use revokes the token
-- family issued from it (family_id = the authorization request).
CREATE TABLE oidc_codes (
	code_hash       {{bytes}} PRIMARY KEY,
	auth_request_id TEXT NOT NULL,
	created_at      BIGINT NOT NULL,
	expires_at      BIGINT NOT NULL,
	used_at         BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE oidc_tokens (
	id         TEXT PRIMARY KEY,
	kind       TEXT NOT NULL,               -- access | refresh
	token_hash {{bytes}},                   -- refresh tokens only
	family_id  TEXT NOT NULL,
	client_id  TEXT NOT NULL,
	account_id TEXT NOT NULL,
	scopes     TEXT NOT NULL DEFAULT '',
	amr        TEXT NOT NULL DEFAULT '',
	auth_time  BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	used_at    BIGINT NOT NULL DEFAULT 0,
	revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX oidc_tokens_hash ON oidc_tokens (token_hash);
CREATE INDEX oidc_tokens_family ON oidc_tokens (family_id);
CREATE INDEX oidc_tokens_account ON oidc_tokens (account_id, client_id);

-- Revoked families: a token is dead when its family is here.
CREATE TABLE oidc_revoked_families (
	family_id  TEXT PRIMARY KEY,
	revoked_at BIGINT NOT NULL,
	reason     TEXT NOT NULL
);

CREATE TABLE oidc_signing_keys (
	id          TEXT PRIMARY KEY,
	alg         TEXT NOT NULL,
	public_key  {{bytes}} NOT NULL,
	private_key {{bytes}} NOT NULL,          -- sealed (internal/seal)
	created_at  BIGINT NOT NULL,
	retire_at   BIGINT NOT NULL,
	expires_at  BIGINT NOT NULL
);
