package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/monban-dev/monban"
)

// Second factors. The secret column is returned only by FactorSecret, so
// listings never carry key material.

const factorColumns = `f.id, f.account_id, f.kind, f.name, f.created_at, f.confirmed_at, f.last_used_at, f.disabled_at,
	(SELECT COUNT(*) FROM recovery_codes r WHERE r.factor_id = f.id AND r.used_at = 0)`

func scanFactor(sc scanner) (monban.Factor, error) {
	var f monban.Factor
	var kind string
	var created, confirmed, used, disabled int64
	err := sc.Scan(&f.ID, &f.AccountID, &kind, &f.Name, &created, &confirmed, &used, &disabled, &f.Remaining)
	f.Kind = monban.FactorKind(kind)
	f.CreatedAt, f.ConfirmedAt = fromMicros(created), fromMicros(confirmed)
	f.LastUsedAt, f.DisabledAt = fromMicros(used), fromMicros(disabled)
	return f, err
}

// CreateFactor stores a new factor with its secret (and, for a passkey, its
// credential id) and appends ev. An unconfirmed TOTP factor has a zero
// ConfirmedAt and counts for nothing until ConfirmTOTP.
func (db *DB) CreateFactor(ctx context.Context, f *monban.Factor, secret []byte, credentialID string, ev monban.AuditEvent) error {
	return db.inTx(ctx, "create factor", func(tx *sql.Tx) error {
		var cred sql.NullString
		if credentialID != "" {
			cred = sql.NullString{String: credentialID, Valid: true}
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO factors
			(id, account_id, kind, name, secret, credential_id, created_at, confirmed_at, last_used_at, disabled_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			f.ID, f.AccountID, string(f.Kind), f.Name, secret, cred, micros(f.CreatedAt), micros(f.ConfirmedAt),
			micros(f.LastUsedAt), micros(f.DisabledAt))
		if isUniqueViolation(err) {
			return monban.Errorf(monban.EConflict, "factor.exists").Wrap(err)
		}
		if err != nil {
			return err
		}
		if ev.Action == "" {
			return nil
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// FactorsByAccount returns every factor of the account, confirmed or not,
// oldest first.
func (db *DB) FactorsByAccount(ctx context.Context, accountID string) ([]monban.Factor, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+factorColumns+` FROM factors f
		WHERE f.account_id = ? ORDER BY f.created_at, f.id`), accountID)
	if err != nil {
		return nil, wrap("factors by account", err)
	}
	defer rows.Close()
	fs := []monban.Factor{}
	for rows.Next() {
		f, err := scanFactor(rows)
		if err != nil {
			return nil, wrap("factors by account", err)
		}
		fs = append(fs, f)
	}
	return fs, wrap("factors by account", rows.Err())
}

// FactorSecret returns one of the account's factors with its stored secret
// and, for TOTP, the last accepted time step.
func (db *DB) FactorSecret(ctx context.Context, accountID, factorID string) (*monban.Factor, []byte, int64, error) {
	var secret []byte
	var step int64
	row := db.r.QueryRowContext(ctx, db.q(`SELECT `+factorColumns+`, f.secret, f.last_step FROM factors f
		WHERE f.account_id = ? AND f.id = ?`), accountID, factorID)
	f, err := scanFactorWith(row, &secret, &step)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, 0, notFound()
	}
	if err != nil {
		return nil, nil, 0, wrap("factor secret", err)
	}
	return &f, secret, step, nil
}

// FactorByCredential returns the passkey with credential id credID and its
// stored credential, or ENotFound.
func (db *DB) FactorByCredential(ctx context.Context, credID string) (*monban.Factor, []byte, error) {
	var secret []byte
	var step int64
	row := db.r.QueryRowContext(ctx, db.q(`SELECT `+factorColumns+`, f.secret, f.last_step FROM factors f
		WHERE f.credential_id = ?`), credID)
	f, err := scanFactorWith(row, &secret, &step)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, notFound()
	}
	if err != nil {
		return nil, nil, wrap("factor by credential", err)
	}
	return &f, secret, nil
}

// scanFactorWith scans factorColumns followed by the secret and last step.
func scanFactorWith(row *sql.Row, secret *[]byte, step *int64) (monban.Factor, error) {
	var f monban.Factor
	var kind string
	var created, confirmed, used, disabled int64
	err := row.Scan(&f.ID, &f.AccountID, &kind, &f.Name, &created, &confirmed, &used, &disabled, &f.Remaining, secret, step)
	f.Kind = monban.FactorKind(kind)
	f.CreatedAt, f.ConfirmedAt = fromMicros(created), fromMicros(confirmed)
	f.LastUsedAt, f.DisabledAt = fromMicros(used), fromMicros(disabled)
	return f, err
}

// UseTOTPStep records that the TOTP factor accepted the code of time step
// step: only if no later or equal step was accepted before, so each code
// works once even when two nodes check it at the same moment. A replay is
// EConflict "totp.replayed". confirm also marks an unconfirmed factor
// confirmed; ev (if any) is appended in the same transaction.
func (db *DB) UseTOTPStep(ctx context.Context, accountID, factorID string, step int64, at time.Time, confirm bool, ev monban.AuditEvent) error {
	return db.inTx(ctx, "use totp step", func(tx *sql.Tx) error {
		var confirmAt int64
		if confirm {
			confirmAt = micros(at)
		}
		res, err := tx.ExecContext(ctx, db.q(`UPDATE factors SET last_step = ?, last_used_at = ?,
			confirmed_at = CASE WHEN confirmed_at = 0 THEN ? ELSE confirmed_at END
			WHERE account_id = ? AND id = ? AND last_step < ? AND disabled_at = 0`),
			step, micros(at), confirmAt, accountID, factorID, step)
		if err := affectedOne(res, err); err != nil {
			if monban.IsNotFound(err) {
				return monban.Errorf(monban.EConflict, "totp.replayed").WithField("code")
			}
			return err
		}
		if ev.Action == "" {
			return nil
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// TouchFactor records a use of a factor (e.g. a passkey assertion) and its
// new signature counter.
func (db *DB) TouchFactor(ctx context.Context, accountID, factorID string, signCount int64, at time.Time) error {
	res, err := db.w.ExecContext(ctx, db.q(`UPDATE factors SET last_used_at = ?, sign_count = ?
		WHERE account_id = ? AND id = ?`), micros(at), signCount, accountID, factorID)
	return wrap("touch factor", affectedOne(res, err))
}

// UpdateFactorSecret replaces a factor's stored secret (a passkey's
// credential after an assertion updates its counters).
func (db *DB) UpdateFactorSecret(ctx context.Context, accountID, factorID string, secret []byte, at time.Time) error {
	res, err := db.w.ExecContext(ctx, db.q(`UPDATE factors SET secret = ?, last_used_at = ?
		WHERE account_id = ? AND id = ?`), secret, micros(at), accountID, factorID)
	return wrap("update factor secret", affectedOne(res, err))
}

// RenameFactor names one of the account's factors.
func (db *DB) RenameFactor(ctx context.Context, accountID, factorID, name string, ev monban.AuditEvent) error {
	return db.inTx(ctx, "rename factor", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE factors SET name = ? WHERE account_id = ? AND id = ?`),
			name, accountID, factorID)
		if err := affectedOne(res, err); err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// RemoveFactor deletes one of the account's factors (recovery codes with
// it). When twoStepOff is set, 2-step verification is switched off in the
// same transaction (the last factor went).
func (db *DB) RemoveFactor(ctx context.Context, accountID, factorID string, twoStepOff bool, ev monban.AuditEvent) error {
	return db.inTx(ctx, "remove factor", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM recovery_codes WHERE factor_id = ? AND account_id = ?`), factorID, accountID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM factors WHERE account_id = ? AND id = ?`), accountID, factorID)
		if err := affectedOne(res, err); err != nil {
			return err
		}
		if twoStepOff {
			if err := db.setTwoStep(ctx, tx, accountID, false, ev.At); err != nil {
				return err
			}
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// ReplaceRecoveryCodes removes the account's recovery-code factor (and so
// every old code) and stores f with the hashes of new codes.
func (db *DB) ReplaceRecoveryCodes(ctx context.Context, f *monban.Factor, hashes [][]byte, ev monban.AuditEvent) error {
	return db.inTx(ctx, "replace recovery codes", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM recovery_codes WHERE account_id = ?`), f.AccountID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM factors WHERE account_id = ? AND kind = ?`),
			f.AccountID, string(monban.FactorRecoveryCodes)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO factors
			(id, account_id, kind, name, created_at, confirmed_at) VALUES (?, ?, ?, ?, ?, ?)`),
			f.ID, f.AccountID, string(f.Kind), f.Name, micros(f.CreatedAt), micros(f.ConfirmedAt)); err != nil {
			return err
		}
		for _, h := range hashes {
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO recovery_codes (factor_id, account_id, hash) VALUES (?, ?, ?)`),
				f.ID, f.AccountID, h); err != nil {
				return err
			}
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// UseRecoveryCode marks the account's unused code with hash used: a second
// use, or a code that is not the account's, is EUnauthorized
// "recovery_code.wrong" and changes nothing. ev is appended on success.
func (db *DB) UseRecoveryCode(ctx context.Context, accountID string, hash []byte, at time.Time, ev monban.AuditEvent) error {
	return db.inTx(ctx, "use recovery code", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE recovery_codes SET used_at = ?
			WHERE account_id = ? AND hash = ? AND used_at = 0`), micros(at), accountID, hash)
		if err := affectedOne(res, err); err != nil {
			if monban.IsNotFound(err) {
				return monban.Errorf(monban.EUnauthorized, "recovery_code.wrong").WithField("code")
			}
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE factors SET last_used_at = ? WHERE account_id = ? AND kind = ?`),
			micros(at), accountID, string(monban.FactorRecoveryCodes)); err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// SetTwoStep switches the account's 2-step verification on or off and
// appends ev.
func (db *DB) SetTwoStep(ctx context.Context, accountID string, on bool, ev monban.AuditEvent) error {
	return db.inTx(ctx, "set two step", func(tx *sql.Tx) error {
		if err := db.setTwoStep(ctx, tx, accountID, on, ev.At); err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

func (db *DB) setTwoStep(ctx context.Context, tx *sql.Tx, accountID string, on bool, at time.Time) error {
	res, err := tx.ExecContext(ctx, db.q(`UPDATE accounts SET two_step = ?, updated_at = ? WHERE id = ?`),
		on, micros(at), accountID)
	return affectedOne(res, err)
}
