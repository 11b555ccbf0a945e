package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/monban-dev/monban"
)

// The OpenID Connect provider's tables (migration 0010): clients,
// authorization requests, codes, tokens and signing keys.

func joinList(xs []string) string { return strings.Join(xs, " ") }

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Fields(s)
}

const oidcClientColumns = `id, name, secret_hash, redirect_uris, post_logout_uris, scopes, public, first_party, created_at`

// CreateOIDCClient registers a relying party and appends ev.
func (db *DB) CreateOIDCClient(ctx context.Context, c *monban.OIDCClient, ev monban.AuditEvent) error {
	return db.inTx(ctx, "create oidc client", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO oidc_clients (`+oidcClientColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			c.ID, c.Name, c.SecretHash, joinList(c.RedirectURIs), joinList(c.PostLogoutURIs), joinList(c.Scopes),
			c.Public, c.FirstParty, micros(c.CreatedAt))
		if err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

func scanOIDCClient(sc scanner) (*monban.OIDCClient, error) {
	var c monban.OIDCClient
	var redirects, logouts, scopes string
	var created int64
	if err := sc.Scan(&c.ID, &c.Name, &c.SecretHash, &redirects, &logouts, &scopes, &c.Public, &c.FirstParty, &created); err != nil {
		return nil, err
	}
	c.RedirectURIs, c.PostLogoutURIs, c.Scopes = splitList(redirects), splitList(logouts), splitList(scopes)
	c.CreatedAt = fromMicros(created)
	return &c, nil
}

// OIDCClient returns the client with id, or ENotFound.
func (db *DB) OIDCClient(ctx context.Context, id string) (*monban.OIDCClient, error) {
	st, err := db.stmt(ctx, `SELECT `+oidcClientColumns+` FROM oidc_clients WHERE id = ?`)
	if err != nil {
		return nil, wrap("oidc client", err)
	}
	c, err := scanOIDCClient(st.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	return c, wrap("oidc client", err)
}

// OIDCClients lists every registered client, oldest first.
func (db *DB) OIDCClients(ctx context.Context) ([]monban.OIDCClient, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+oidcClientColumns+` FROM oidc_clients ORDER BY created_at, id`)
	if err != nil {
		return nil, wrap("oidc clients", err)
	}
	defer rows.Close()
	var out []monban.OIDCClient
	for rows.Next() {
		c, err := scanOIDCClient(rows)
		if err != nil {
			return nil, wrap("oidc clients", err)
		}
		out = append(out, *c)
	}
	return out, wrap("oidc clients", rows.Err())
}

// DeleteOIDCClient removes a client and revokes every token it holds.
func (db *DB) DeleteOIDCClient(ctx context.Context, id string, at time.Time, ev monban.AuditEvent) error {
	return db.inTx(ctx, "delete oidc client", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM oidc_clients WHERE id = ?`), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound()
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE oidc_tokens SET revoked_at = ? WHERE client_id = ? AND revoked_at = 0`),
			micros(at), id); err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

const oidcAuthRequestColumns = `id, client_id, redirect_uri, state, nonce, scopes, response_type, response_mode,
	code_challenge, code_method, prompt, max_age, ui_locales, login_hint, account_id, session_id, auth_time,
	amr, acr, done_at, created_at, expires_at`

// CreateOIDCAuthRequest stores a validated authorization request.
func (db *DB) CreateOIDCAuthRequest(ctx context.Context, a *monban.OIDCAuthRequest) error {
	return db.inTx(ctx, "create auth request", func(tx *sql.Tx) error {
		_, err := db.txExec(ctx, tx, `INSERT INTO oidc_auth_requests (`+oidcAuthRequestColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.ClientID, a.RedirectURI, a.State, a.Nonce, joinList(a.Scopes), a.ResponseType, a.ResponseMode,
			a.CodeChallenge, a.CodeChallengeMethod, joinList(a.Prompt), int64(a.MaxAge), a.UILocales, a.LoginHint,
			a.AccountID, a.SessionID, micros(a.AuthTime), joinList(a.AMR), a.ACR, micros(a.DoneAt),
			micros(a.CreatedAt), micros(a.ExpiresAt))
		return err
	})
}

func scanOIDCAuthRequest(sc scanner) (*monban.OIDCAuthRequest, error) {
	var a monban.OIDCAuthRequest
	var scopes, prompt, amr string
	var maxAge, authTime, done, created, expires int64
	err := sc.Scan(&a.ID, &a.ClientID, &a.RedirectURI, &a.State, &a.Nonce, &scopes, &a.ResponseType, &a.ResponseMode,
		&a.CodeChallenge, &a.CodeChallengeMethod, &prompt, &maxAge, &a.UILocales, &a.LoginHint, &a.AccountID,
		&a.SessionID, &authTime, &amr, &a.ACR, &done, &created, &expires)
	if err != nil {
		return nil, err
	}
	a.Scopes, a.Prompt, a.AMR = splitList(scopes), splitList(prompt), splitList(amr)
	a.MaxAge = int(maxAge)
	a.AuthTime, a.DoneAt = fromMicros(authTime), fromMicros(done)
	a.CreatedAt, a.ExpiresAt = fromMicros(created), fromMicros(expires)
	return &a, nil
}

// OIDCAuthRequest returns the authorization request id (expired ones
// included: the caller decides), or ENotFound.
func (db *DB) OIDCAuthRequest(ctx context.Context, id string) (*monban.OIDCAuthRequest, error) {
	st, err := db.stmt(ctx, `SELECT `+oidcAuthRequestColumns+` FROM oidc_auth_requests WHERE id = ?`)
	if err != nil {
		return nil, wrap("auth request", err)
	}
	a, err := scanOIDCAuthRequest(st.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	return a, wrap("auth request", err)
}

// CompleteOIDCAuthRequest records who signed in for the request, and how.
// A request completes once; it must not have expired.
func (db *DB) CompleteOIDCAuthRequest(ctx context.Context, a *monban.OIDCAuthRequest, now time.Time) error {
	return db.inTx(ctx, "complete auth request", func(tx *sql.Tx) error {
		res, err := db.txExec(ctx, tx, `UPDATE oidc_auth_requests
			SET account_id = ?, session_id = ?, auth_time = ?, amr = ?, acr = ?, done_at = ?
			WHERE id = ? AND done_at = 0 AND expires_at > ?`,
			a.AccountID, a.SessionID, micros(a.AuthTime), joinList(a.AMR), a.ACR, micros(now), a.ID, micros(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound()
		}
		a.DoneAt = now
		return nil
	})
}

// SaveOIDCCode stores the hash of the code issued for a completed request.
func (db *DB) SaveOIDCCode(ctx context.Context, authRequestID string, hash []byte, now, expires time.Time) error {
	return db.inTx(ctx, "save code", func(tx *sql.Tx) error {
		_, err := db.txExec(ctx, tx, `INSERT INTO oidc_codes (code_hash, auth_request_id, created_at, expires_at)
			VALUES (?, ?, ?, ?)`, hash, authRequestID, micros(now), micros(expires))
		return err
	})
}

// ErrOIDCReused is returned when a code or refresh token is presented a
// second time; what was issued from it has been revoked by then.
var ErrOIDCReused = monban.Errorf(monban.EForbidden, "oidc.reused")

// ConsumeOIDCCode uses the code once and returns its authorization
// request. An unknown or expired code is ENotFound; a code used before
// revokes the token family issued from it and answers ErrOIDCReused.
func (db *DB) ConsumeOIDCCode(ctx context.Context, hash []byte, now time.Time, ev monban.AuditEvent) (*monban.OIDCAuthRequest, error) {
	var reqID string
	reused := false
	err := db.inTx(ctx, "consume code", func(tx *sql.Tx) error {
		var used, expires int64
		err := db.txQueryRow(ctx, tx, `SELECT auth_request_id, used_at, expires_at FROM oidc_codes WHERE code_hash = ?`+db.d.forUpdate(), hash).
			Scan(&reqID, &used, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound()
		}
		if err != nil {
			return err
		}
		if used != 0 {
			reused = true
			ev.Detail = map[string]string{"family_id": reqID}
			return db.revokeFamily(ctx, tx, reqID, "code_reused", now, ev)
		}
		if expires <= micros(now) {
			return notFound()
		}
		_, err = db.txExec(ctx, tx, `UPDATE oidc_codes SET used_at = ? WHERE code_hash = ?`, micros(now), hash)
		return err
	})
	if err != nil {
		return nil, err
	}
	if reused {
		return nil, ErrOIDCReused
	}
	return db.OIDCAuthRequest(ctx, reqID)
}

// revokeFamily marks a token family revoked and its tokens with it.
func (db *DB) revokeFamily(ctx context.Context, tx *sql.Tx, familyID, reason string, now time.Time, ev monban.AuditEvent) error {
	if _, err := db.txExec(ctx, tx, `INSERT INTO oidc_revoked_families (family_id, revoked_at, reason) VALUES (?, ?, ?)
		ON CONFLICT (family_id) DO NOTHING`, familyID, micros(now), reason); err != nil {
		return err
	}
	if _, err := db.txExec(ctx, tx, `UPDATE oidc_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at = 0`,
		micros(now), familyID); err != nil {
		return err
	}
	if ev.Action == "" {
		return nil
	}
	return db.insertAudit(ctx, tx, ev)
}

// RevokeOIDCFamily revokes every token descended from one authorization.
func (db *DB) RevokeOIDCFamily(ctx context.Context, familyID, reason string, now time.Time, ev monban.AuditEvent) error {
	return db.inTx(ctx, "revoke token family", func(tx *sql.Tx) error {
		return db.revokeFamily(ctx, tx, familyID, reason, now, ev)
	})
}

const oidcTokenColumns = `t.id, t.kind, t.token_hash, t.family_id, t.client_id, t.account_id, t.scopes, t.amr,
	t.auth_time, t.created_at, t.expires_at, t.used_at, t.revoked_at, f.family_id IS NOT NULL`

const oidcTokenFrom = ` FROM oidc_tokens t LEFT JOIN oidc_revoked_families f ON f.family_id = t.family_id`

func scanOIDCToken(sc scanner) (*monban.OIDCToken, error) {
	var t monban.OIDCToken
	var kind, scopes, amr string
	var authTime, created, expires, used, revoked int64
	err := sc.Scan(&t.ID, &kind, &t.Hash, &t.FamilyID, &t.ClientID, &t.AccountID, &scopes, &amr,
		&authTime, &created, &expires, &used, &revoked, &t.FamilyRevoked)
	if err != nil {
		return nil, err
	}
	t.Kind = monban.OIDCTokenKind(kind)
	t.Scopes, t.AMR = splitList(scopes), splitList(amr)
	t.AuthTime, t.CreatedAt, t.ExpiresAt = fromMicros(authTime), fromMicros(created), fromMicros(expires)
	t.UsedAt, t.RevokedAt = fromMicros(used), fromMicros(revoked)
	return &t, nil
}

// CreateOIDCTokens inserts newly issued tokens. When rotated is set (the
// hash of the refresh token being exchanged), that token is marked used in
// the same transaction; if it was used already (a concurrent exchange), the
// family is revoked and ErrOIDCReused returned, so at most one exchange of
// a refresh token ever issues anything.
func (db *DB) CreateOIDCTokens(ctx context.Context, tokens []monban.OIDCToken, rotated []byte, now time.Time, ev monban.AuditEvent) error {
	reused := false
	err := db.inTx(ctx, "create tokens", func(tx *sql.Tx) error {
		if rotated != nil {
			res, err := db.txExec(ctx, tx, `UPDATE oidc_tokens SET used_at = ?
				WHERE token_hash = ? AND used_at = 0 AND revoked_at = 0`, micros(now), rotated)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 && len(tokens) > 0 {
				reused = true
				return db.revokeFamily(ctx, tx, tokens[0].FamilyID, "refresh_reused", now, ev)
			}
		}
		for _, t := range tokens {
			var hash any
			if t.Hash != nil {
				hash = t.Hash
			}
			_, err := db.txExec(ctx, tx, `INSERT INTO oidc_tokens (id, kind, token_hash, family_id, client_id, account_id,
				scopes, amr, auth_time, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				t.ID, string(t.Kind), hash, t.FamilyID, t.ClientID, t.AccountID, joinList(t.Scopes), joinList(t.AMR),
				micros(t.AuthTime), micros(t.CreatedAt), micros(t.ExpiresAt))
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if reused {
		return ErrOIDCReused
	}
	return nil
}

// OIDCRefreshToken returns the refresh token whose hash is hash (used,
// revoked and expired ones included), or ENotFound.
func (db *DB) OIDCRefreshToken(ctx context.Context, hash []byte) (*monban.OIDCToken, error) {
	st, err := db.stmt(ctx, `SELECT `+oidcTokenColumns+oidcTokenFrom+` WHERE t.token_hash = ? AND t.kind = 'refresh'`)
	if err != nil {
		return nil, wrap("refresh token", err)
	}
	t, err := scanOIDCToken(st.QueryRowContext(ctx, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	return t, wrap("refresh token", err)
}

// OIDCToken returns the token with id, or ENotFound.
func (db *DB) OIDCToken(ctx context.Context, id string) (*monban.OIDCToken, error) {
	st, err := db.stmt(ctx, `SELECT `+oidcTokenColumns+oidcTokenFrom+` WHERE t.id = ?`)
	if err != nil {
		return nil, wrap("oidc token", err)
	}
	t, err := scanOIDCToken(st.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	return t, wrap("oidc token", err)
}

// RevokeOIDCToken revokes one token of a client.
func (db *DB) RevokeOIDCToken(ctx context.Context, id, clientID string, now time.Time) error {
	return db.inTx(ctx, "revoke token", func(tx *sql.Tx) error {
		_, err := db.txExec(ctx, tx, `UPDATE oidc_tokens SET revoked_at = ? WHERE id = ? AND client_id = ? AND revoked_at = 0`,
			micros(now), id, clientID)
		return err
	})
}

// RevokeOIDCTokensOf revokes every token a client holds for an account
// (RP-initiated logout).
func (db *DB) RevokeOIDCTokensOf(ctx context.Context, accountID, clientID string, now time.Time) error {
	return db.inTx(ctx, "revoke tokens of", func(tx *sql.Tx) error {
		_, err := db.txExec(ctx, tx, `UPDATE oidc_tokens SET revoked_at = ? WHERE account_id = ? AND client_id = ? AND revoked_at = 0`,
			micros(now), accountID, clientID)
		return err
	})
}

const oidcKeyColumns = `id, alg, public_key, private_key, created_at, retire_at, expires_at`

// OIDCSigningKeys returns the keys still published at now, newest first.
func (db *DB) OIDCSigningKeys(ctx context.Context, now time.Time) ([]monban.SigningKey, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+oidcKeyColumns+` FROM oidc_signing_keys
		WHERE expires_at > ? ORDER BY created_at DESC, id`), micros(now))
	if err != nil {
		return nil, wrap("signing keys", err)
	}
	defer rows.Close()
	var out []monban.SigningKey
	for rows.Next() {
		var k monban.SigningKey
		var created, retire, expires int64
		if err := rows.Scan(&k.ID, &k.Alg, &k.Public, &k.PrivateSealed, &created, &retire, &expires); err != nil {
			return nil, wrap("signing keys", err)
		}
		k.CreatedAt, k.RetireAt, k.ExpiresAt = fromMicros(created), fromMicros(retire), fromMicros(expires)
		out = append(out, k)
	}
	return out, wrap("signing keys", rows.Err())
}

// AddOIDCSigningKey stores a new signing key.
func (db *DB) AddOIDCSigningKey(ctx context.Context, k *monban.SigningKey) error {
	return db.inTx(ctx, "add signing key", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO oidc_signing_keys (`+oidcKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`),
			k.ID, k.Alg, k.Public, k.PrivateSealed, micros(k.CreatedAt), micros(k.RetireAt), micros(k.ExpiresAt))
		return err
	})
}

// PruneOIDC drops what can no longer be used: authorization requests and
// codes past their expiry (and a grace day, to catch a late reuse), tokens
// and families past theirs, and keys no longer published.
func (db *DB) PruneOIDC(ctx context.Context, now time.Time) error {
	grace := micros(now.Add(-24 * time.Hour))
	return db.inTx(ctx, "prune oidc", func(tx *sql.Tx) error {
		for _, q := range []struct {
			sql string
			arg int64
		}{
			{`DELETE FROM oidc_codes WHERE expires_at < ?`, grace},
			{`DELETE FROM oidc_auth_requests WHERE expires_at < ?`, grace},
			{`DELETE FROM oidc_tokens WHERE expires_at < ?`, micros(now)},
			{`DELETE FROM oidc_revoked_families WHERE revoked_at < ? AND family_id NOT IN (SELECT family_id FROM oidc_tokens)`, grace},
			{`DELETE FROM oidc_signing_keys WHERE expires_at < ?`, micros(now)},
		} {
			if _, err := tx.ExecContext(ctx, db.q(q.sql), q.arg); err != nil {
				return err
			}
		}
		return nil
	})
}
