package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/monban-dev/monban"
)

// Login help (recoveries) and contact changes with their undo.

const recoveryColumns = `id, account_id, device_id, flow_id, channel, shown, checks, code_at, second_at,
	completed_at, created_at, expires_at`

// CreateRecovery stores a login-help attempt and, for a known account, ev.
func (db *DB) CreateRecovery(ctx context.Context, r *monban.Recovery, ev *monban.AuditEvent) error {
	return db.inTx(ctx, "create recovery", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO recoveries (`+recoveryColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			r.ID, r.AccountID, r.DeviceID, r.FlowID, string(r.Channel), r.Shown, r.Checks, micros(r.CodeAt),
			micros(r.SecondAt), micros(r.CompletedAt), micros(r.CreatedAt), micros(r.ExpiresAt))
		if err != nil || ev == nil {
			return err
		}
		return db.insertAudit(ctx, tx, *ev)
	})
}

// RecoveryByID returns a login-help attempt, or ENotFound.
func (db *DB) RecoveryByID(ctx context.Context, id string) (*monban.Recovery, error) {
	var r monban.Recovery
	var ch string
	var code, second, done, created, expires int64
	err := db.r.QueryRowContext(ctx, db.q(`SELECT `+recoveryColumns+` FROM recoveries WHERE id = ?`), id).Scan(
		&r.ID, &r.AccountID, &r.DeviceID, &r.FlowID, &ch, &r.Shown, &r.Checks, &code, &second, &done, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	if err != nil {
		return nil, wrap("recovery by id", err)
	}
	r.Channel = monban.Channel(ch)
	r.CodeAt, r.SecondAt, r.CompletedAt = fromMicros(code), fromMicros(second), fromMicros(done)
	r.CreatedAt, r.ExpiresAt = fromMicros(created), fromMicros(expires)
	return &r, nil
}

// CountRecoveryCheck counts a wrong code of an attempt and returns the
// checks made so far.
func (db *DB) CountRecoveryCheck(ctx context.Context, id string) (int, error) {
	var n int
	err := db.inTx(ctx, "count recovery check", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE recoveries SET checks = checks + 1 WHERE id = ?`), id); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, db.q(`SELECT checks FROM recoveries WHERE id = ?`), id).Scan(&n)
	})
	return n, err
}

// MarkRecoveryCode records that the attempt's code was right.
func (db *DB) MarkRecoveryCode(ctx context.Context, id string, at time.Time) error {
	_, err := db.w.ExecContext(ctx, db.q(`UPDATE recoveries SET code_at = ? WHERE id = ? AND code_at = 0`), micros(at), id)
	return wrap("mark recovery code", err)
}

// MarkRecoverySecond records that the attempt's second factor was right.
func (db *DB) MarkRecoverySecond(ctx context.Context, id string, at time.Time) error {
	_, err := db.w.ExecContext(ctx, db.q(`UPDATE recoveries SET second_at = ? WHERE id = ? AND code_at > 0`), micros(at), id)
	return wrap("mark recovery second factor", err)
}

// ResetPassword completes an attempt: the account's new password hash,
// every session ended, ev, and the notice with its messages, in one
// transaction. An attempt already completed is "recovery.used".
func (db *DB) ResetPassword(ctx context.Context, recoveryID, accountID, hash string, at time.Time, ev monban.AuditEvent,
	n *monban.Notice, msgs []*monban.Message) error {
	return db.inTx(ctx, "reset password", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE recoveries SET completed_at = ?
			WHERE id = ? AND account_id = ? AND completed_at = 0`), micros(at), recoveryID, accountID)
		if err := affectedOne(res, err); monban.IsNotFound(err) {
			return monban.Errorf(monban.EConflict, "recovery.used")
		} else if err != nil {
			return err
		}
		if err := db.setPasswordHash(ctx, tx, accountID, hash, at); err != nil {
			return err
		}
		if err := db.revokeAll(ctx, tx, accountID, at); err != nil {
			return err
		}
		if err := db.insertAudit(ctx, tx, ev); err != nil {
			return err
		}
		if n == nil {
			return nil
		}
		return db.insertNotice(ctx, tx, n, msgs)
	})
}

func (db *DB) setPasswordHash(ctx context.Context, tx *sql.Tx, accountID, hash string, at time.Time) error {
	res, err := tx.ExecContext(ctx, db.q(`UPDATE accounts SET password_hash = ?, updated_at = ? WHERE id = ?`),
		hash, micros(at), accountID)
	return affectedOne(res, err)
}

func (db *DB) revokeAll(ctx context.Context, tx *sql.Tx, accountID string, at time.Time) error {
	_, err := tx.ExecContext(ctx, db.q(`UPDATE sessions SET revoked_at = ? WHERE account_id = ? AND revoked_at = 0`),
		micros(at), accountID)
	return err
}

const changeColumns = `id, account_id, kind, old_value, old_verified, new_value, flow_id, session_id,
	created_at, completed_at, undo_expires_at, undone_at`

// CreateContactChange stores a pending contact change.
func (db *DB) CreateContactChange(ctx context.Context, c *monban.ContactChange) error {
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO contact_changes (`+changeColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		c.ID, c.AccountID, string(c.Kind), c.OldValue, c.OldVerified, c.NewValue, c.FlowID, c.SessionID,
		micros(c.CreatedAt), micros(c.CompletedAt), micros(c.UndoExpiresAt), micros(c.UndoneAt))
	return wrap("create contact change", err)
}

func scanChange(sc scanner) (*monban.ContactChange, error) {
	var c monban.ContactChange
	var kind string
	var created, done, undoExp, undone int64
	err := sc.Scan(&c.ID, &c.AccountID, &kind, &c.OldValue, &c.OldVerified, &c.NewValue, &c.FlowID, &c.SessionID,
		&created, &done, &undoExp, &undone)
	c.Kind = monban.IdentifierKind(kind)
	c.CreatedAt, c.CompletedAt = fromMicros(created), fromMicros(done)
	c.UndoExpiresAt, c.UndoneAt = fromMicros(undoExp), fromMicros(undone)
	return &c, err
}

// ContactChangeByID returns a contact change, or ENotFound.
func (db *DB) ContactChangeByID(ctx context.Context, id string) (*monban.ContactChange, error) {
	c, err := scanChange(db.r.QueryRowContext(ctx, db.q(`SELECT `+changeColumns+` FROM contact_changes WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	return c, wrap("contact change by id", err)
}

// ContactChangeByUndo returns the change whose undo token hashes to hash,
// or ENotFound.
func (db *DB) ContactChangeByUndo(ctx context.Context, hash []byte) (*monban.ContactChange, error) {
	c, err := scanChange(db.r.QueryRowContext(ctx, db.q(`SELECT `+changeColumns+` FROM contact_changes WHERE undo_hash = ?`), hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	return c, wrap("contact change by undo", err)
}

// CompleteContactChange makes the change: the account's identifier of the
// change's kind becomes c.NewValue (verified), the change records its undo
// token hash and expiry, and ev and the notice to the old contacts are
// written, in one transaction. A change completed before is "change.used".
func (db *DB) CompleteContactChange(ctx context.Context, c *monban.ContactChange, undoHash []byte, at time.Time,
	ev monban.AuditEvent, n *monban.Notice, msgs []*monban.Message) error {
	return db.inTx(ctx, "complete contact change", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE contact_changes SET completed_at = ?, undo_hash = ?, undo_expires_at = ?
			WHERE id = ? AND completed_at = 0`), micros(at), undoHash, micros(c.UndoExpiresAt), c.ID)
		if err := affectedOne(res, err); monban.IsNotFound(err) {
			return monban.Errorf(monban.EConflict, "change.used")
		} else if err != nil {
			return err
		}
		if err := db.setContact(ctx, tx, c.AccountID, c.Kind, c.NewValue, true, at); err != nil {
			return err
		}
		if err := db.contactChangedEvent(ctx, tx, c, "changed", at); err != nil {
			return err
		}
		if err := db.insertAudit(ctx, tx, ev); err != nil {
			return err
		}
		if n == nil {
			return nil
		}
		return db.insertNotice(ctx, tx, n, msgs)
	})
}

// setContact replaces the account's identifiers of kind with value ("" for
// none).
func (db *DB) setContact(ctx context.Context, tx *sql.Tx, accountID string, kind monban.IdentifierKind, value string,
	verified bool, at time.Time) error {
	if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM identifiers WHERE account_id = ? AND kind = ?`),
		accountID, string(kind)); err != nil {
		return err
	}
	if value == "" {
		return nil
	}
	if kind == monban.KindPhone {
		if err := db.checkPhoneCap(ctx, tx, value); err != nil {
			return err
		}
	}
	return db.insertIdentifier(ctx, tx, monban.Identifier{AccountID: accountID, Kind: kind, Value: value,
		Verified: verified, CreatedAt: at})
}

// UndoContactChange restores the account's contacts as they were before c:
// every completed change of the account since c (c included) is undone,
// newest first, every session ends, the password is replaced by
// unusableHash (the attacker may know it; the owner sets a new one through
// recovery), the second factors added since c are removed and ev is
// written, in one transaction. A change already undone
// or past its undo window is "undo.invalid".
func (db *DB) UndoContactChange(ctx context.Context, c *monban.ContactChange, unusableHash string, at time.Time, ev monban.AuditEvent) error {
	return db.inTx(ctx, "undo contact change", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE contact_changes SET undone_at = ?
			WHERE id = ? AND undone_at = 0 AND completed_at > 0 AND undo_expires_at > ?`), micros(at), c.ID, micros(at))
		if err := affectedOne(res, err); monban.IsNotFound(err) {
			return monban.Errorf(monban.EInvalid, "undo.invalid")
		} else if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, db.q(`SELECT `+changeColumns+` FROM contact_changes
			WHERE account_id = ? AND completed_at > 0 AND (id = ? OR (undone_at = 0 AND created_at >= ?))
			ORDER BY created_at DESC, id DESC`), c.AccountID, c.ID, micros(c.CreatedAt))
		if err != nil {
			return err
		}
		var later []*monban.ContactChange
		for rows.Next() {
			x, err := scanChange(rows)
			if err != nil {
				rows.Close()
				return err
			}
			later = append(later, x)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, x := range later {
			// The old address received the link: it is proven again.
			if err := db.setContact(ctx, tx, x.AccountID, x.Kind, x.OldValue, true, at); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE contact_changes SET undone_at = ? WHERE id = ? AND undone_at = 0`),
				micros(at), x.ID); err != nil {
				return err
			}
		}
		if err := db.setPasswordHash(ctx, tx, c.AccountID, unusableHash, at); err != nil {
			return err
		}
		if err := db.revokeAll(ctx, tx, c.AccountID, at); err != nil {
			return err
		}
		if err := db.removeFactorsSince(ctx, tx, c.AccountID, c.CreatedAt, at); err != nil {
			return err
		}
		if err := db.contactChangedEvent(ctx, tx, c, "restored", at); err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// contactChangedEvent tells host apps that the account's email or phone
// changed ("changed") or was put back by the owner's undo link ("restored",
// after which the account's sessions are all gone).
func (db *DB) contactChangedEvent(ctx context.Context, tx *sql.Tx, c *monban.ContactChange, how string, at time.Time) error {
	return db.insertWebhookEvent(ctx, tx, &monban.WebhookEvent{ID: monban.NewID("evt"), Type: monban.EventContactChanged,
		AccountID: c.AccountID, Data: map[string]string{"kind": string(c.Kind), "change": how}, CreatedAt: at})
}

// removeFactorsSince deletes the second factors added to the account at or
// after since (with their recovery codes) and, when no strong factor is
// left, turns 2-step verification off: what an attacker enrolled must not
// lock the owner out of recovery.
func (db *DB) removeFactorsSince(ctx context.Context, tx *sql.Tx, accountID string, since, at time.Time) error {
	if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM recovery_codes WHERE factor_id IN
		(SELECT id FROM factors WHERE account_id = ? AND created_at >= ?)`), accountID, micros(since)); err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, db.q(`DELETE FROM factors WHERE account_id = ? AND created_at >= ?`), accountID, micros(since))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err
	}
	var strong int
	if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM factors WHERE account_id = ?
		AND kind IN ('totp', 'passkey') AND confirmed_at > 0 AND disabled_at = 0`), accountID).Scan(&strong); err != nil {
		return err
	}
	if strong > 0 {
		return nil
	}
	_, err = tx.ExecContext(ctx, db.q(`UPDATE accounts SET two_step = ?, updated_at = ? WHERE id = ?`), false, micros(at), accountID)
	return err
}
