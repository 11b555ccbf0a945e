package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/monban-dev/monban"
)

// SaveCeremony stores a WebAuthn ceremony in progress.
func (db *DB) SaveCeremony(ctx context.Context, c *monban.Ceremony) error {
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO webauthn_ceremonies
		(id, account_id, kind, data, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`),
		c.ID, c.AccountID, string(c.Kind), c.Data, micros(c.CreatedAt), micros(c.ExpiresAt))
	return wrap("save ceremony", err)
}

// TakeCeremony returns the unexpired, unused ceremony id of accountID and
// kind and marks it used, so that one challenge answers one response. Any
// other is ENotFound.
func (db *DB) TakeCeremony(ctx context.Context, id, accountID string, kind monban.CeremonyKind, now time.Time) (*monban.Ceremony, error) {
	c := &monban.Ceremony{}
	err := db.inTx(ctx, "take ceremony", func(tx *sql.Tx) error {
		var k string
		var created, expires int64
		err := tx.QueryRowContext(ctx, db.q(`UPDATE webauthn_ceremonies SET used_at = ?
			WHERE id = ? AND account_id = ? AND kind = ? AND used_at = 0 AND expires_at > ?
			RETURNING id, account_id, kind, data, created_at, expires_at`),
			micros(now), id, accountID, string(kind), micros(now)).Scan(&c.ID, &c.AccountID, &k, &c.Data, &created, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound()
		}
		c.Kind, c.CreatedAt, c.ExpiresAt = monban.CeremonyKind(k), fromMicros(created), fromMicros(expires)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}
