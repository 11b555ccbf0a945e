package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/monban-dev/monban"
)

const apiKeyColumns = `id, name, hash, admin, created_at, revoked_at`

// CreateAPIKey stores k and appends ev in one transaction.
func (db *DB) CreateAPIKey(ctx context.Context, k *monban.APIKey, ev monban.AuditEvent) error {
	return db.inTx(ctx, "create api key", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO api_keys (`+apiKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?)`),
			k.ID, k.Name, k.Hash, k.Admin, micros(k.CreatedAt), micros(k.RevokedAt))
		if err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// APIKeyByHash returns the key whose secret hashes to hash, revoked ones
// included, or ENotFound. It runs on every host-app request.
func (db *DB) APIKeyByHash(ctx context.Context, hash []byte) (*monban.APIKey, error) {
	st, err := db.stmt(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = ?`)
	if err != nil {
		return nil, wrap("api key by hash", err)
	}
	k, err := scanAPIKey(st.QueryRowContext(ctx, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	if err != nil {
		return nil, wrap("api key by hash", err)
	}
	return &k, nil
}

// APIKeys returns every key, revoked ones included, oldest first.
func (db *DB) APIKeys(ctx context.Context) ([]monban.APIKey, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, wrap("api keys", err)
	}
	defer rows.Close()
	ks := []monban.APIKey{}
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, wrap("api keys", err)
		}
		ks = append(ks, k)
	}
	return ks, wrap("api keys", rows.Err())
}

func scanAPIKey(sc scanner) (monban.APIKey, error) {
	var k monban.APIKey
	var created, revoked int64
	err := sc.Scan(&k.ID, &k.Name, &k.Hash, &k.Admin, &created, &revoked)
	k.CreatedAt, k.RevokedAt = fromMicros(created), fromMicros(revoked)
	return k, err
}

// RevokeAPIKey revokes the key and appends ev; an unknown or already revoked
// key is ENotFound.
func (db *DB) RevokeAPIKey(ctx context.Context, id string, at time.Time, ev monban.AuditEvent) error {
	return db.inTx(ctx, "revoke api key", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at = 0`),
			micros(at), id)
		if err := affectedOne(res, err); err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}
