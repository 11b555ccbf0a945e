package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/monban-dev/monban"
)

const accountColumns = `a.id, a.status, a.password_hash, a.two_step, a.lang, a.created_at, a.updated_at`

// CreateAccount stores a new account with its identifiers and audit event in
// one transaction. A taken username or email, or a phone already held by
// monban.MaxAccountsPerPhone accounts, is an EConflict and writes nothing.
func (db *DB) CreateAccount(ctx context.Context, a *monban.Account, ids []monban.Identifier, ev monban.AuditEvent) error {
	return db.inTx(ctx, "create account", func(tx *sql.Tx) error {
		_, err := db.txExec(ctx, tx, `INSERT INTO accounts
			(id, status, password_hash, two_step, lang, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			a.ID, string(a.Status), a.PasswordHash, a.TwoStep, a.Lang, micros(a.CreatedAt), micros(a.UpdatedAt))
		if err != nil {
			return err
		}
		for _, id := range ids {
			id.AccountID = a.ID
			if err := db.insertIdentifier(ctx, tx, id); err != nil {
				return err
			}
		}
		// Host apps hear of the account only if it was stored.
		if err := db.insertWebhookEvent(ctx, tx, &monban.WebhookEvent{ID: monban.NewID("evt"),
			Type: monban.EventAccountRegistered, AccountID: a.ID, CreatedAt: a.CreatedAt}); err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

func (db *DB) insertIdentifier(ctx context.Context, tx *sql.Tx, id monban.Identifier) error {
	if id.Kind == monban.KindPhone {
		if err := db.checkPhoneCap(ctx, tx, id.Value); err != nil {
			return err
		}
	}
	_, err := db.txExec(ctx, tx, `INSERT INTO identifiers
		(kind, value, account_id, verified, created_at) VALUES (?, ?, ?, ?, ?)`,
		string(id.Kind), id.Value, id.AccountID, id.Verified, micros(id.CreatedAt))
	if isUniqueViolation(err) {
		return monban.Errorf(monban.EConflict, "identifier.taken").WithField(string(id.Kind)).Wrap(err)
	}
	return err
}

// checkPhoneCap refuses a phone number already shared by the maximum number
// of accounts. No index can express the cap, so the count is taken under a
// lock on the number (see dialect.lockKey).
func (db *DB) checkPhoneCap(ctx context.Context, tx *sql.Tx, phone string) error {
	if err := db.d.lockKey(ctx, tx, "phone:"+phone); err != nil {
		return err
	}
	var n int
	err := db.txQueryRow(ctx, tx, `SELECT COUNT(*) FROM identifiers WHERE kind = ? AND value = ?`,
		string(monban.KindPhone), phone).Scan(&n)
	if err != nil {
		return err
	}
	if n >= monban.MaxAccountsPerPhone {
		return monban.Errorf(monban.EConflict, "phone.too_many_accounts").WithField(string(monban.KindPhone))
	}
	return nil
}

// AccountByID returns the account, or ENotFound.
func (db *DB) AccountByID(ctx context.Context, id string) (*monban.Account, error) {
	row := db.r.QueryRowContext(ctx, db.q(`SELECT `+accountColumns+` FROM accounts a WHERE a.id = ?`), id)
	a, err := scanAccount(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	if err != nil {
		return nil, wrap("account by id", err)
	}
	return &a, nil
}

// AccountsByIdentifier returns the accounts holding kind/value, oldest first:
// at most one for usernames and emails, several for a shared phone.
func (db *DB) AccountsByIdentifier(ctx context.Context, kind monban.IdentifierKind, value string) ([]monban.Account, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+accountColumns+`
		FROM identifiers i JOIN accounts a ON a.id = i.account_id
		WHERE i.kind = ? AND i.value = ?
		ORDER BY a.created_at, a.id`), string(kind), value)
	if err != nil {
		return nil, wrap("accounts by identifier", err)
	}
	defer rows.Close()
	accounts := []monban.Account{}
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, wrap("accounts by identifier", err)
		}
		accounts = append(accounts, a)
	}
	return accounts, wrap("accounts by identifier", rows.Err())
}

func scanAccount(s scanner) (monban.Account, error) {
	var a monban.Account
	var status string
	var created, updated int64
	err := s.Scan(&a.ID, &status, &a.PasswordHash, &a.TwoStep, &a.Lang, &created, &updated)
	a.Status = monban.AccountStatus(status)
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	return a, err
}

// IdentifiersByAccount returns the account's identifiers in the order they
// were added.
func (db *DB) IdentifiersByAccount(ctx context.Context, accountID string) ([]monban.Identifier, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT kind, value, account_id, verified, created_at
		FROM identifiers WHERE account_id = ? ORDER BY created_at, kind, value`), accountID)
	if err != nil {
		return nil, wrap("identifiers by account", err)
	}
	defer rows.Close()
	ids := []monban.Identifier{}
	for rows.Next() {
		var id monban.Identifier
		var kind string
		var created int64
		if err := rows.Scan(&kind, &id.Value, &id.AccountID, &id.Verified, &created); err != nil {
			return nil, wrap("identifiers by account", err)
		}
		id.Kind, id.CreatedAt = monban.IdentifierKind(kind), fromMicros(created)
		ids = append(ids, id)
	}
	return ids, wrap("identifiers by account", rows.Err())
}

// UpdatePasswordHash replaces the account's password hash (e.g. after
// rehashing with new parameters) and appends ev, in one transaction.
func (db *DB) UpdatePasswordHash(ctx context.Context, accountID, hash string, ev monban.AuditEvent) error {
	return db.inTx(ctx, "update password hash", func(tx *sql.Tx) error {
		res, err := db.txExec(ctx, tx, `UPDATE accounts SET password_hash = ?, updated_at = ? WHERE id = ?`,
			hash, micros(db.clock.Now()), accountID)
		if err := affectedOne(res, err); err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// affectedOne turns "no row changed" into ENotFound.
func affectedOne(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound()
	}
	return nil
}
