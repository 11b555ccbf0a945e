package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/monban-dev/monban"
)

const grantColumns = `id, account_id, step, created_by, case_id, created_at, expires_at, used_at`

func scanGrant(sc scanner) (*monban.Grant, error) {
	var g monban.Grant
	var created, expires, used int64
	if err := sc.Scan(&g.ID, &g.AccountID, &g.Step, &g.CreatedBy, &g.CaseID, &created, &expires, &used); err != nil {
		return nil, err
	}
	g.CreatedAt, g.ExpiresAt, g.UsedAt = fromMicros(created), fromMicros(expires), fromMicros(used)
	return &g, nil
}

// CreateGrant stores a bypass grant and its audit entry in one transaction.
func (db *DB) CreateGrant(ctx context.Context, g *monban.Grant, ev monban.AuditEvent) error {
	return db.inTx(ctx, "create grant", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO grants (`+grantColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			g.ID, g.AccountID, g.Step, g.CreatedBy, g.CaseID, micros(g.CreatedAt), micros(g.ExpiresAt), micros(g.UsedAt))
		if err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// UseGrant marks the account's usable grant for step as used at now (the
// one that expires first, when there are several) and appends ev with the
// grant's id, in one transaction. Two concurrent uses of one grant: one
// wins, the other finds none. No usable grant is ENotFound "grant.none".
func (db *DB) UseGrant(ctx context.Context, accountID, step string, now time.Time, ev monban.AuditEvent) (*monban.Grant, error) {
	var g *monban.Grant
	err := db.inTx(ctx, "use grant", func(tx *sql.Tx) error {
		var err error
		g, err = db.useGrant(ctx, tx, accountID, step, now, ev)
		return err
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// useGrant is UseGrant inside tx, for flows that spend the grant together
// with what it lets through (a transfer's move).
func (db *DB) useGrant(ctx context.Context, tx *sql.Tx, accountID, step string, now time.Time, ev monban.AuditEvent) (*monban.Grant, error) {
	row := tx.QueryRowContext(ctx, db.q(`SELECT `+grantColumns+` FROM grants
		WHERE account_id = ? AND step = ? AND used_at = 0 AND created_at <= ? AND expires_at > ?
		ORDER BY expires_at, id LIMIT 1`+db.d.forUpdate()), accountID, step, micros(now), micros(now))
	g, err := scanGrant(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, monban.Errorf(monban.ENotFound, "grant.none")
	}
	if err != nil {
		return nil, err
	}
	res, err := tx.ExecContext(ctx, db.q(`UPDATE grants SET used_at = ? WHERE id = ? AND used_at = 0`), micros(now), g.ID)
	if err := affectedOne(res, err); err != nil {
		if monban.IsNotFound(err) {
			return nil, monban.Errorf(monban.ENotFound, "grant.none")
		}
		return nil, err
	}
	g.UsedAt = now
	if ev.Detail == nil {
		ev.Detail = map[string]string{}
	}
	ev.Detail["grant_id"], ev.Detail["step"], ev.Detail["granted_by"] = g.ID, g.Step, g.CreatedBy
	if g.CaseID != "" {
		ev.Detail["case_id"] = g.CaseID
	}
	return g, db.insertAudit(ctx, tx, ev)
}

// GrantsByAccount returns the account's grants, newest first; with
// usableAt set, only those usable then.
func (db *DB) GrantsByAccount(ctx context.Context, accountID string, usableAt time.Time) ([]monban.Grant, error) {
	query := `SELECT ` + grantColumns + ` FROM grants WHERE account_id = ?`
	args := []any{accountID}
	if !usableAt.IsZero() {
		query += ` AND used_at = 0 AND created_at <= ? AND expires_at > ?`
		args = append(args, micros(usableAt), micros(usableAt))
	}
	rows, err := db.r.QueryContext(ctx, db.q(query+` ORDER BY created_at DESC, id`), args...)
	if err != nil {
		return nil, wrap("grants by account", err)
	}
	defer rows.Close()
	out := []monban.Grant{}
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, wrap("grants by account", err)
		}
		out = append(out, *g)
	}
	return out, wrap("grants by account", rows.Err())
}
