package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/monban-dev/monban"
)

// Held sign-ins waiting for a second proof, and the approve-or-deny
// prompts they raise. State changes are conditional updates, so that an
// approval, a denial and a completion racing on two nodes leave exactly
// one winner.

const pendingColumns = `id, secret_hash, account_id, device_id, kind, ip, user_agent, reason, state, flow_id,
	approval_asked_at, approval_expires_at, link_hash, decided_by, decided_at, created_at, expires_at, completed_at`

func scanPending(sc scanner) (monban.PendingSignIn, error) {
	var p monban.PendingSignIn
	var kind, state string
	var asked, apExp, decided, created, expires, completed int64
	err := sc.Scan(&p.ID, &p.SecretHash, &p.AccountID, &p.DeviceID, &kind, &p.IP, &p.UserAgent, &p.Reason, &state,
		&p.FlowID, &asked, &apExp, &p.LinkHash, &p.DecidedBy, &decided, &created, &expires, &completed)
	p.Kind, p.State = monban.SessionKind(kind), monban.PendingState(state)
	p.ApprovalAskedAt, p.ApprovalExpiresAt, p.DecidedAt = fromMicros(asked), fromMicros(apExp), fromMicros(decided)
	p.CreatedAt, p.ExpiresAt, p.CompletedAt = fromMicros(created), fromMicros(expires), fromMicros(completed)
	return p, err
}

// CreatePending stores a held sign-in and appends ev.
func (db *DB) CreatePending(ctx context.Context, p *monban.PendingSignIn, ev monban.AuditEvent) error {
	return db.inTx(ctx, "create pending sign-in", func(tx *sql.Tx) error {
		if err := db.insertPending(ctx, tx, p); err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// insertPending inserts a held sign-in (or a transfer's prompt) in tx.
func (db *DB) insertPending(ctx context.Context, tx *sql.Tx, p *monban.PendingSignIn) error {
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO pending_signins (`+pendingColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		p.ID, p.SecretHash, p.AccountID, p.DeviceID, string(p.Kind), p.IP, p.UserAgent, p.Reason, string(p.State),
		p.FlowID, micros(p.ApprovalAskedAt), micros(p.ApprovalExpiresAt), p.LinkHash, p.DecidedBy,
		micros(p.DecidedAt), micros(p.CreatedAt), micros(p.ExpiresAt), micros(p.CompletedAt))
	return err
}

// PendingByID returns the held sign-in, or ENotFound.
func (db *DB) PendingByID(ctx context.Context, id string) (*monban.PendingSignIn, error) {
	p, err := scanPending(db.w.QueryRowContext(ctx, db.q(`SELECT `+pendingColumns+` FROM pending_signins WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	if err != nil {
		return nil, wrap("pending by id", err)
	}
	return &p, nil
}

// SetPendingFlow records the code flow started for a waiting sign-in.
func (db *DB) SetPendingFlow(ctx context.Context, id, flowID string) error {
	res, err := db.w.ExecContext(ctx, db.q(`UPDATE pending_signins SET flow_id = ? WHERE id = ? AND state = ?`),
		flowID, id, string(monban.PendingWaiting))
	return wrap("set pending flow", affectedOne(res, err))
}

// AskApproval opens the approve-or-deny prompt of a waiting sign-in until
// expires, with a new one-time link, counting limits (all counted, or
// none and RateLimited) and storing the notice n that carries the link (if
// any) with its messages in the same transaction.
func (db *DB) AskApproval(ctx context.Context, id string, linkHash []byte, now, expires time.Time, limits []monban.Limit, ev monban.AuditEvent,
	n *monban.Notice, msgs []*monban.Message) error {
	return db.inTx(ctx, "ask approval", func(tx *sql.Tx) error {
		if err := db.hitLimits(ctx, tx, now, limits); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`UPDATE pending_signins
			SET approval_asked_at = ?, approval_expires_at = ?, link_hash = ?
			WHERE id = ? AND state = ? AND expires_at > ?`),
			micros(now), micros(expires), linkHash, id, string(monban.PendingWaiting), micros(now))
		if err := affectedOne(res, err); err != nil {
			if monban.IsNotFound(err) {
				return monban.Errorf(monban.EConflict, "signin.pending_over")
			}
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

// DecidePending approves or denies a waiting sign-in whose prompt is still
// open at at. A prompt already decided (a replay) is EConflict
// "approval.decided"; an expired one "approval.expired".
func (db *DB) DecidePending(ctx context.Context, id string, to monban.PendingState, by string, at time.Time, ev monban.AuditEvent) error {
	return db.inTx(ctx, "decide pending sign-in", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE pending_signins SET state = ?, decided_by = ?, decided_at = ?
			WHERE id = ? AND state = ? AND approval_expires_at > ? AND expires_at > ?`),
			string(to), by, micros(at), id, string(monban.PendingWaiting), micros(at), micros(at))
		if err := affectedOne(res, err); err != nil {
			if !monban.IsNotFound(err) {
				return err
			}
			var state string
			var apExp, exp int64
			err := tx.QueryRowContext(ctx, db.q(`SELECT state, approval_expires_at, expires_at FROM pending_signins WHERE id = ?`), id).
				Scan(&state, &apExp, &exp)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return monban.Errorf(monban.ENotFound, "approval.not_found")
			case err != nil:
				return err
			case state != string(monban.PendingWaiting):
				return monban.Errorf(monban.EConflict, "approval.decided")
			}
			return monban.Errorf(monban.EConflict, "approval.expired")
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// CompletePending ends a waiting or approved sign-in as completed at at, so
// that it starts exactly one session. Anything else — completed, denied,
// expired — is EConflict "signin.pending_over".
func (db *DB) CompletePending(ctx context.Context, id string, at time.Time) error {
	res, err := db.w.ExecContext(ctx, db.q(`UPDATE pending_signins SET state = ?, completed_at = ?
		WHERE id = ? AND state IN (?, ?) AND expires_at > ?`),
		string(monban.PendingCompleted), micros(at), id, string(monban.PendingWaiting), string(monban.PendingApproved), micros(at))
	err = affectedOne(res, err)
	if monban.IsNotFound(err) {
		return monban.Errorf(monban.EConflict, "signin.pending_over")
	}
	return wrap("complete pending sign-in", err)
}

// OpenApprovals returns the account's sign-ins waiting with an open
// approve-or-deny prompt at now, newest first.
func (db *DB) OpenApprovals(ctx context.Context, accountID string, now time.Time) ([]monban.PendingSignIn, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+pendingColumns+` FROM pending_signins
		WHERE account_id = ? AND state = ? AND approval_expires_at > ? AND expires_at > ?
		ORDER BY created_at DESC, id`), accountID, string(monban.PendingWaiting), micros(now), micros(now))
	if err != nil {
		return nil, wrap("open approvals", err)
	}
	defer rows.Close()
	out := []monban.PendingSignIn{}
	for rows.Next() {
		p, err := scanPending(rows)
		if err != nil {
			return nil, wrap("open approvals", err)
		}
		out = append(out, p)
	}
	return out, wrap("open approvals", rows.Err())
}

// SetDeviceTrust sets (until > 0) or clears (zero) how long one of the
// account's devices is trusted, and appends ev.
func (db *DB) SetDeviceTrust(ctx context.Context, accountID, deviceID string, until time.Time, ev monban.AuditEvent) error {
	return db.inTx(ctx, "set device trust", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE devices SET trusted_until = ? WHERE account_id = ? AND id = ?`),
			micros(until), accountID, deviceID)
		if err := affectedOne(res, err); err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// RecordReauth notes that a session proved the password again at at.
func (db *DB) RecordReauth(ctx context.Context, sessionID string, at time.Time, ev monban.AuditEvent) error {
	return db.inTx(ctx, "record reauth", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO session_reauth (session_id, at) VALUES (?, ?)
			ON CONFLICT (session_id) DO UPDATE SET at = excluded.at`), sessionID, micros(at))
		if err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// ReauthAt returns when the session last proved the password again, or the
// zero time.
func (db *DB) ReauthAt(ctx context.Context, sessionID string) (time.Time, error) {
	var at int64
	err := db.r.QueryRowContext(ctx, db.q(`SELECT at FROM session_reauth WHERE session_id = ?`), sessionID).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	return fromMicros(at), wrap("reauth at", err)
}
