package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/monban-dev/monban"
)

// Transfers of an account to a new device. Every state change is a
// conditional update, and the move itself (CompleteTransfer) is one
// transaction, so two devices racing for one account leave one winner and
// never a half-moved account.

const transferColumns = `id, account_id, kind, state, method, binding_hash, secret_hash, old_device_id, old_session_id,
	new_device_id, new_device_label, new_kind, new_session_id, ip, user_agent, lang, pending_id, flow_id,
	phone_confirmed_at, created_at, expires_at, approved_at, completed_at, ended_at`

func scanTransfer(sc scanner) (*monban.Transfer, error) {
	var t monban.Transfer
	var kind, state, newKind string
	var phone, created, expires, approved, completed, ended int64
	err := sc.Scan(&t.ID, &t.AccountID, &kind, &state, &t.Method, &t.BindingHash, &t.SecretHash, &t.OldDeviceID, &t.OldSessionID,
		&t.NewDeviceID, &t.NewDeviceLabel, &newKind, &t.NewSessionID, &t.IP, &t.UserAgent, &t.Lang, &t.PendingID, &t.FlowID,
		&phone, &created, &expires, &approved, &completed, &ended)
	if err != nil {
		return nil, err
	}
	t.Kind, t.State, t.NewKind = monban.TransferKind(kind), monban.TransferState(state), monban.SessionKind(newKind)
	t.PhoneConfirmedAt, t.CreatedAt, t.ExpiresAt = fromMicros(phone), fromMicros(created), fromMicros(expires)
	t.ApprovedAt, t.CompletedAt, t.EndedAt = fromMicros(approved), fromMicros(completed), fromMicros(ended)
	return &t, nil
}

// nullBytes stores an empty hash as NULL, so the unique index on binding
// codes ignores lost-device transfers.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

var openTransferStates = []any{string(monban.TransferOffered), string(monban.TransferPending), string(monban.TransferApproved)}

// endTransfers marks the account's open transfers that match extra as
// ended in state to.
func (db *DB) endTransfers(ctx context.Context, tx *sql.Tx, accountID string, to monban.TransferState, now time.Time, extra string, args ...any) error {
	q := `UPDATE transfers SET state = ?, ended_at = ? WHERE account_id = ? AND state IN (?, ?, ?)` + extra
	all := append([]any{string(to), micros(now), accountID}, openTransferStates...)
	_, err := tx.ExecContext(ctx, db.q(q), append(all, args...)...)
	return err
}

func (db *DB) insertTransfer(ctx context.Context, tx *sql.Tx, t *monban.Transfer) error {
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO transfers (`+transferColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		t.ID, t.AccountID, string(t.Kind), string(t.State), t.Method, nullBytes(t.BindingHash), nullBytes(t.SecretHash),
		t.OldDeviceID, t.OldSessionID, t.NewDeviceID, t.NewDeviceLabel, string(t.NewKind), t.NewSessionID, t.IP, t.UserAgent,
		t.Lang, t.PendingID, t.FlowID, micros(t.PhoneConfirmedAt), micros(t.CreatedAt), micros(t.ExpiresAt),
		micros(t.ApprovedAt), micros(t.CompletedAt), micros(t.EndedAt))
	if isUniqueViolation(err) {
		return errTransferInProgress()
	}
	return err
}

func errTransferInProgress() error {
	return monban.Errorf(monban.EConflict, "transfer.in_progress")
}

// OfferTransfer stores a binding-code transfer offered by a signed-in old
// device, and appends ev. The account's signed-in owner outranks any other
// open transfer: those are cancelled in the same transaction. Two offers at
// once: one wins, the other is EConflict "transfer.in_progress".
func (db *DB) OfferTransfer(ctx context.Context, t *monban.Transfer, ev monban.AuditEvent) error {
	return db.inTx(ctx, "offer transfer", func(tx *sql.Tx) error {
		if err := db.endTransfers(ctx, tx, t.AccountID, monban.TransferCancelled, t.CreatedAt, ""); err != nil {
			return err
		}
		if err := db.insertTransfer(ctx, tx, t); err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// StartTransfer stores a lost-device transfer whose password was proven,
// and appends ev. Open transfers that have expired are closed first, and
// so is an open one from the same new device (the person started again).
// Any other open transfer of the account makes this one EConflict
// "transfer.in_progress" — also when two starts race: one wins.
func (db *DB) StartTransfer(ctx context.Context, t *monban.Transfer, ev monban.AuditEvent) error {
	return db.inTx(ctx, "start transfer", func(tx *sql.Tx) error {
		now := t.CreatedAt
		if err := db.endTransfers(ctx, tx, t.AccountID, monban.TransferExpired, now, ` AND expires_at <= ?`, micros(now)); err != nil {
			return err
		}
		if err := db.endTransfers(ctx, tx, t.AccountID, monban.TransferCancelled, now,
			` AND kind = ? AND new_device_id = ?`, string(monban.TransferLost), t.NewDeviceID); err != nil {
			return err
		}
		if err := db.insertTransfer(ctx, tx, t); err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// TransferByID returns the transfer, or ENotFound.
func (db *DB) TransferByID(ctx context.Context, id string) (*monban.Transfer, error) {
	t, err := scanTransfer(db.w.QueryRowContext(ctx, db.q(`SELECT `+transferColumns+` FROM transfers WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	return t, wrap("transfer by id", err)
}

// TransferByBindingHash returns the transfer whose binding code hashes to
// hash, or ENotFound.
func (db *DB) TransferByBindingHash(ctx context.Context, hash []byte) (*monban.Transfer, error) {
	t, err := scanTransfer(db.w.QueryRowContext(ctx, db.q(`SELECT `+transferColumns+` FROM transfers WHERE binding_hash = ?`), hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	return t, wrap("transfer by binding code", err)
}

// OpenTransfer returns the account's open transfer at now, or ENotFound.
func (db *DB) OpenTransfer(ctx context.Context, accountID string, now time.Time) (*monban.Transfer, error) {
	args := append([]any{accountID}, openTransferStates...)
	t, err := scanTransfer(db.r.QueryRowContext(ctx, db.q(`SELECT `+transferColumns+` FROM transfers
		WHERE account_id = ? AND state IN (?, ?, ?) AND expires_at > ?`), append(args, micros(now))...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	return t, wrap("open transfer", err)
}

// ConfirmTransferPhone records that the new device confirmed the
// registered number and opens the approve-or-deny prompt p in the
// account's other sessions, in one transaction. A transfer no longer
// pending is EConflict "transfer.over".
func (db *DB) ConfirmTransferPhone(ctx context.Context, id string, now time.Time, p *monban.PendingSignIn, ev monban.AuditEvent) error {
	return db.inTx(ctx, "confirm transfer phone", func(tx *sql.Tx) error {
		pendingID := ""
		if p != nil {
			pendingID = p.ID
		}
		res, err := tx.ExecContext(ctx, db.q(`UPDATE transfers SET phone_confirmed_at = ?, pending_id = CASE WHEN ? <> '' THEN ? ELSE pending_id END
			WHERE id = ? AND state = ? AND expires_at > ?`),
			micros(now), pendingID, pendingID, id, string(monban.TransferPending), micros(now))
		if err := transferChanged(res, err); err != nil {
			return err
		}
		if p != nil {
			if err := db.insertPending(ctx, tx, p); err != nil {
				return err
			}
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

func transferChanged(res sql.Result, err error) error {
	err = affectedOne(res, err)
	if monban.IsNotFound(err) {
		return monban.Errorf(monban.EConflict, "transfer.over")
	}
	return err
}

// SetTransferFlow records the code flow last started for a pending transfer.
func (db *DB) SetTransferFlow(ctx context.Context, id, flowID string) error {
	res, err := db.w.ExecContext(ctx, db.q(`UPDATE transfers SET flow_id = ? WHERE id = ? AND state = ?`),
		flowID, id, string(monban.TransferPending))
	return wrap("set transfer flow", transferChanged(res, err))
}

// ApproveTransfer marks a pending transfer proven by method at now and
// appends ev: the move may run. Anything else is EConflict "transfer.over".
func (db *DB) ApproveTransfer(ctx context.Context, id, method string, now time.Time, ev monban.AuditEvent) error {
	return db.inTx(ctx, "approve transfer", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE transfers SET state = ?, method = ?, approved_at = ?
			WHERE id = ? AND state = ? AND expires_at > ?`),
			string(monban.TransferApproved), method, micros(now), id, string(monban.TransferPending), micros(now))
		if err := transferChanged(res, err); err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// CancelTransfer ends an open transfer and appends ev.
func (db *DB) CancelTransfer(ctx context.Context, id string, now time.Time, ev monban.AuditEvent) error {
	return db.inTx(ctx, "cancel transfer", func(tx *sql.Tx) error {
		args := append([]any{string(monban.TransferCancelled), micros(now), id}, openTransferStates...)
		res, err := tx.ExecContext(ctx, db.q(`UPDATE transfers SET state = ?, ended_at = ? WHERE id = ? AND state IN (?, ?, ?)`), args...)
		if err := transferChanged(res, err); err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// CompleteTransfer moves the account in one transaction: the transfer
// completes (once: a second completion is EConflict "transfer.over"), its
// proof is spent (an approved prompt, or the account's grant), the new
// device's session starts, the old sessions end, and the audit entry, the
// notice and the webhook event are written. It returns the transfer as
// completed and the ids of the devices whose sessions ended.
func (db *DB) CompleteTransfer(ctx context.Context, c monban.TransferCompletion) (*monban.Transfer, []string, error) {
	var t *monban.Transfer
	var ended []string
	err := db.inTx(ctx, "complete transfer", func(tx *sql.Tx) error {
		var err error
		t, err = scanTransfer(tx.QueryRowContext(ctx, db.q(`SELECT `+transferColumns+` FROM transfers WHERE id = ?`+db.d.forUpdate()), c.TransferID))
		if errors.Is(err, sql.ErrNoRows) {
			return monban.Errorf(monban.ENotFound, "transfer.not_found")
		}
		if err != nil {
			return err
		}
		if !slices.Contains(c.From, t.State) || !c.Now.Before(t.ExpiresAt) {
			return monban.Errorf(monban.EConflict, "transfer.over")
		}
		from := make([]any, 0, len(c.From))
		for _, s := range c.From {
			from = append(from, string(s))
		}
		res, err := tx.ExecContext(ctx, db.q(`UPDATE transfers SET state = ?, method = ?, new_session_id = ?, new_device_id = ?,
			completed_at = ?, approved_at = CASE WHEN approved_at = 0 THEN ? ELSE approved_at END
			WHERE id = ? AND expires_at > ? AND state IN (`+placeholders(len(from))+`)`),
			append([]any{string(monban.TransferCompleted), c.Method, c.Session.ID, c.Session.DeviceID, micros(c.Now), micros(c.Now),
				t.ID, micros(c.Now)}, from...)...)
		if err := transferChanged(res, err); err != nil {
			return err
		}
		if err := db.spendProof(ctx, tx, t, c); err != nil {
			return err
		}
		if ended, err = db.endOldSessions(ctx, tx, t.AccountID, c); err != nil {
			return err
		}
		if err := db.insertSession(ctx, tx, c.Session, c.Device); err != nil {
			return err
		}
		c.Audit.Detail["ended_devices"] = strings.Join(ended, " ")
		if err := db.insertAudit(ctx, tx, c.Audit); err != nil {
			return err
		}
		if c.Notice != nil {
			if err := db.insertNotice(ctx, tx, c.Notice, c.Msgs); err != nil {
				return err
			}
		}
		if c.Webhook != nil {
			c.Webhook.Data["previous_device_ids"] = strings.Join(ended, ",")
			if err := db.insertWebhookEvent(ctx, tx, c.Webhook); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	t.State, t.Method, t.CompletedAt = monban.TransferCompleted, c.Method, c.Now
	t.NewSessionID, t.NewDeviceID = c.Session.ID, c.Session.DeviceID
	return t, ended, nil
}

// spendProof uses the approval or the grant that let the transfer through.
func (db *DB) spendProof(ctx context.Context, tx *sql.Tx, t *monban.Transfer, c monban.TransferCompletion) error {
	if c.PendingID != "" {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE pending_signins SET state = ?, completed_at = ?
			WHERE id = ? AND account_id = ? AND state = ? AND expires_at > ?`),
			string(monban.PendingCompleted), micros(c.Now), c.PendingID, t.AccountID, string(monban.PendingApproved), micros(c.Now))
		if err := affectedOne(res, err); err != nil {
			if monban.IsNotFound(err) {
				return monban.Errorf(monban.EConflict, "transfer.not_approved")
			}
			return err
		}
	}
	if c.GrantStep != "" {
		if _, err := db.useGrant(ctx, tx, t.AccountID, c.GrantStep, c.Now, c.GrantAudit); err != nil {
			return err
		}
	}
	return nil
}

// endOldSessions revokes the sessions the move ends and returns the ids of
// their devices, sorted.
func (db *DB) endOldSessions(ctx context.Context, tx *sql.Tx, accountID string, c monban.TransferCompletion) ([]string, error) {
	where, args := `account_id = ? AND revoked_at = 0 AND expires_at > ? AND id <> ?`, []any{accountID, micros(c.Now), c.KeepSessionID}
	if c.EndDeviceID != "" {
		where, args = where+` AND device_id = ?`, append(args, c.EndDeviceID)
	}
	rows, err := tx.QueryContext(ctx, db.q(`SELECT DISTINCT device_id FROM sessions WHERE `+where), args...)
	if err != nil {
		return nil, err
	}
	var devices []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			rows.Close()
			return nil, err
		}
		devices = append(devices, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, db.q(`UPDATE sessions SET revoked_at = ? WHERE `+where), append([]any{micros(c.Now)}, args...)...); err != nil {
		return nil, err
	}
	slices.Sort(devices)
	return devices, nil
}

// TransfersByAccount returns the account's transfers, newest first.
func (db *DB) TransfersByAccount(ctx context.Context, accountID string) ([]monban.Transfer, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+transferColumns+` FROM transfers
		WHERE account_id = ? ORDER BY created_at DESC, id`), accountID)
	if err != nil {
		return nil, wrap("transfers by account", err)
	}
	defer rows.Close()
	out := []monban.Transfer{}
	for rows.Next() {
		t, err := scanTransfer(rows)
		if err != nil {
			return nil, wrap("transfers by account", err)
		}
		out = append(out, *t)
	}
	return out, wrap("transfers by account", rows.Err())
}
