package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/monban-dev/monban"
)

const flowColumns = `id, account_id, purpose, channel, destination, sends, failures,
	next_send_at, created_at, expires_at, completed_at`

func scanFlow(s scanner) (*monban.Flow, error) {
	var f monban.Flow
	var purpose, channel string
	var next, created, expires, completed int64
	err := s.Scan(&f.ID, &f.AccountID, &purpose, &channel, &f.Destination, &f.Sends, &f.Failures,
		&next, &created, &expires, &completed)
	if err != nil {
		return nil, err
	}
	f.Purpose, f.Channel = monban.Purpose(purpose), monban.Channel(channel)
	f.NextSendAt, f.CreatedAt = fromMicros(next), fromMicros(created)
	f.ExpiresAt, f.CompletedAt = fromMicros(expires), fromMicros(completed)
	return &f, nil
}

// IssueCode writes a code and the message that carries it, after counting
// the send against in.Limits, for a new flow or as a resend within one. It
// writes everything or, on any refusal or error, nothing.
func (db *DB) IssueCode(ctx context.Context, in monban.CodeIssue) error {
	return db.inTx(ctx, "issue code", func(tx *sql.Tx) error {
		if err := db.hitLimits(ctx, tx, in.Now, in.Limits); err != nil {
			return err
		}
		flowID := in.FlowID
		if in.NewFlow != nil {
			flowID = in.NewFlow.ID
			if err := db.insertFlow(ctx, tx, in.Now, in.NewFlow); err != nil {
				return err
			}
		} else if err := db.resendFlow(ctx, tx, in); err != nil {
			return err
		}
		in.Code.FlowID, in.Message.FlowID = flowID, flowID
		in.Code.MessageID = in.Message.ID
		if err := db.insertCode(ctx, tx, in.Code); err != nil {
			return err
		}
		return db.insertMessage(ctx, tx, in.Message)
	})
}

// lastFailed is true for a flow (the row "flows") whose newest message is
// known not to have arrived: failed, abandoned or expired. Such a flow
// holds nothing back: its channel is free at once (issue #16).
const lastFailed = `EXISTS (SELECT 1 FROM messages m WHERE m.flow_id = flows.id
		AND m.status IN ('failed', 'abandoned', 'expired')
		AND NOT EXISTS (SELECT 1 FROM messages n WHERE n.flow_id = m.flow_id
			AND (n.created_at > m.created_at OR (n.created_at = m.created_at AND n.id > m.id))))`

// insertFlow stores a new flow, unless an open flow of the same account,
// purpose, destination and channel is still in its resend cooldown:
// starting over must not be a way around the cooldown. The cooldown is per
// channel (a voice call right after an SMS is another way, not a resend),
// and a flow whose last message failed holds nothing back. The check is
// taken under a lock on the four, so two nodes cannot both pass it.
func (db *DB) insertFlow(ctx context.Context, tx *sql.Tx, now time.Time, f *monban.Flow) error {
	if err := db.d.lockKey(ctx, tx, "flow:"+f.AccountID+"|"+string(f.Purpose)+"|"+f.Destination+"|"+string(f.Channel)); err != nil {
		return err
	}
	var next sql.NullInt64
	err := db.txQueryRow(ctx, tx, `SELECT MAX(next_send_at) FROM flows
		WHERE account_id = ? AND purpose = ? AND destination = ? AND channel = ? AND completed_at = 0 AND expires_at > ?
		AND NOT `+lastFailed,
		f.AccountID, string(f.Purpose), f.Destination, string(f.Channel), micros(now)).Scan(&next)
	if err != nil {
		return err
	}
	if next.Valid && next.Int64 > micros(now) {
		return monban.RateLimited("code.resend_cooldown", fromMicros(next.Int64))
	}
	_, err = db.txExec(ctx, tx, `INSERT INTO flows (`+flowColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, f.AccountID, string(f.Purpose), string(f.Channel), f.Destination, f.Sends, f.Failures,
		micros(f.NextSendAt), micros(f.CreatedAt), micros(f.ExpiresAt), micros(f.CompletedAt))
	return err
}

// resendFlow counts one more send in an open flow whose cooldown has passed,
// or whose last message failed (a failed delivery frees its channel). The update is conditional on the number of sends the caller saw, so of two
// resends racing only one goes out; the other gets the new cooldown.
func (db *DB) resendFlow(ctx context.Context, tx *sql.Tx, in monban.CodeIssue) error {
	now := micros(in.Now)
	res, err := db.txExec(ctx, tx, `UPDATE flows SET sends = sends + 1, next_send_at = ?
		WHERE id = ? AND sends = ? AND (next_send_at <= ? OR `+lastFailed+`) AND completed_at = 0 AND expires_at > ?`,
		micros(in.NextSendAt), in.FlowID, in.ExpectSends, now, now)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	f, err := scanFlow(db.txQueryRow(ctx, tx, `SELECT `+flowColumns+` FROM flows WHERE id = ?`, in.FlowID))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return codeNotFound()
	case err != nil:
		return err
	case !f.CompletedAt.IsZero():
		return codeUsed()
	case !f.ExpiresAt.After(in.Now):
		return codeExpired()
	}
	return monban.RateLimited("code.resend_cooldown", f.NextSendAt)
}

func (db *DB) insertCode(ctx context.Context, tx *sql.Tx, c *monban.Code) error {
	_, err := db.txExec(ctx, tx, `INSERT INTO codes
		(id, flow_id, hash, checks, created_at, expires_at, used_at, message_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.FlowID, c.Hash, c.Checks, micros(c.CreatedAt), micros(c.ExpiresAt), micros(c.UsedAt), c.MessageID)
	return err
}

func codeNotFound() error { return monban.Errorf(monban.ENotFound, "code.not_found") }
func codeUsed() error     { return monban.Errorf(monban.EConflict, "code.used").WithField("code") }
func codeExpired() error  { return monban.Errorf(monban.EInvalid, "code.expired").WithField("code") }

// activeCode is a code that can still be checked.
type activeCode struct {
	id     string
	hash   []byte
	checks int
}

// CheckCode checks a code entered for flowID by accountID: match is the
// caller's constant-time comparison against a stored hash. Of any number of
// concurrent checks of a right code, on any number of nodes, exactly one
// succeeds: it marks the code used and the flow completed and, for the
// verify_email, verify_phone and add_phone purposes, the destination a
// verified identifier of the account, all in one transaction, and returns
// the completed flow.
//
// A wrong code costs one check of each active code (at most maxChecks each)
// and one failure of the flow; that bookkeeping is committed even though
// "code.wrong" is returned. The count across flows (per account and
// purpose, which neither a resend nor a new flow resets) is the throttle's,
// claimed by internal/codes before this check.
func (db *DB) CheckCode(ctx context.Context, flowID, accountID string, now time.Time, maxChecks int,
	match func(hash []byte) bool) (*monban.Flow, error) {
	var flow *monban.Flow
	var wrong *monban.Error // returned after the failure is committed
	err := db.inTx(ctx, "check code", func(tx *sql.Tx) error {
		f, err := scanFlow(db.txQueryRow(ctx, tx, `SELECT `+flowColumns+` FROM flows WHERE id = ?`+db.d.forUpdate(), flowID))
		if errors.Is(err, sql.ErrNoRows) || err == nil && f.AccountID != accountID {
			return codeNotFound()
		}
		if err != nil {
			return err
		}
		if !f.CompletedAt.IsZero() {
			return codeUsed()
		}
		codes, err := db.activeCodes(ctx, tx, flowID, now, maxChecks)
		if err != nil {
			return err
		}
		if len(codes) == 0 || !f.ExpiresAt.After(now) {
			return codeExpired()
		}
		for _, c := range codes {
			if match(c.hash) {
				flow = f
				return db.completeFlow(ctx, tx, f, c.id, now)
			}
		}
		wrong, err = db.recordFailure(ctx, tx, f, codes[0], now, maxChecks)
		return err
	})
	if err != nil {
		return nil, err
	}
	if wrong != nil {
		return nil, wrong
	}
	return flow, nil
}

// activeCodes returns the flow's codes that are unused, unexpired and have
// checks left, newest first.
func (db *DB) activeCodes(ctx context.Context, tx *sql.Tx, flowID string, now time.Time, maxChecks int) ([]activeCode, error) {
	rows, err := db.txQuery(ctx, tx, `SELECT id, hash, checks FROM codes
		WHERE flow_id = ? AND used_at = 0 AND expires_at > ? AND checks < ?
		ORDER BY created_at DESC, id`, flowID, micros(now), maxChecks)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var codes []activeCode
	for rows.Next() {
		var c activeCode
		if err := rows.Scan(&c.id, &c.hash, &c.checks); err != nil {
			return nil, err
		}
		codes = append(codes, c)
	}
	return codes, rows.Err()
}

// completeFlow uses the code, completes the flow and verifies what it proved.
func (db *DB) completeFlow(ctx context.Context, tx *sql.Tx, f *monban.Flow, codeID string, now time.Time) error {
	res, err := db.txExec(ctx, tx, `UPDATE codes SET used_at = ? WHERE id = ? AND used_at = 0`, micros(now), codeID)
	if err := affectedOne(res, err); err != nil {
		if monban.IsNotFound(err) {
			return codeUsed()
		}
		return err
	}
	res, err = db.txExec(ctx, tx, `UPDATE flows SET completed_at = ? WHERE id = ? AND completed_at = 0`, micros(now), f.ID)
	if err := affectedOne(res, err); err != nil {
		if monban.IsNotFound(err) {
			return codeUsed()
		}
		return err
	}
	f.CompletedAt = now
	switch f.Purpose {
	case monban.PurposeVerifyEmail, monban.PurposeVerifyPhone, monban.PurposeAddPhone:
		return db.verifyIdentifier(ctx, tx, f, now)
	}
	return nil
}

// verifyIdentifier marks the flow's destination a verified identifier of its
// account, adding it when the account does not hold it yet (adding a phone).
func (db *DB) verifyIdentifier(ctx context.Context, tx *sql.Tx, f *monban.Flow, now time.Time) error {
	kind := monban.KindPhone
	if f.Channel == monban.ChannelEmail {
		kind = monban.KindEmail
	}
	res, err := db.txExec(ctx, tx, `UPDATE identifiers SET verified = ? WHERE account_id = ? AND kind = ? AND value = ?`,
		true, f.AccountID, string(kind), f.Destination)
	if err := affectedOne(res, err); !monban.IsNotFound(err) {
		return err
	}
	return db.insertIdentifier(ctx, tx, monban.Identifier{
		AccountID: f.AccountID, Kind: kind, Value: f.Destination, Verified: true, CreatedAt: now,
	})
}

// recordFailure counts a wrong code and returns the "code.wrong" error to
// give once it is committed: remaining is how many more tries are left
// before the newest code runs out.
func (db *DB) recordFailure(ctx context.Context, tx *sql.Tx, f *monban.Flow, newest activeCode, now time.Time,
	maxChecks int) (*monban.Error, error) {
	_, err := db.txExec(ctx, tx, `UPDATE codes SET checks = checks + 1
		WHERE flow_id = ? AND used_at = 0 AND expires_at > ? AND checks < ?`, f.ID, micros(now), maxChecks)
	if err != nil {
		return nil, err
	}
	if _, err := db.txExec(ctx, tx, `UPDATE flows SET failures = failures + 1 WHERE id = ?`, f.ID); err != nil {
		return nil, err
	}
	remaining := maxChecks - newest.checks - 1
	return monban.Errorf(monban.EInvalid, "code.wrong").WithField("code").
		WithParams(map[string]any{"remaining": max(remaining, 0)}), nil
}

// FlowByID returns the flow, or ENotFound.
func (db *DB) FlowByID(ctx context.Context, id string) (*monban.Flow, error) {
	s, err := db.stmt(ctx, `SELECT `+flowColumns+` FROM flows WHERE id = ?`)
	if err != nil {
		return nil, wrap("flow by id", err)
	}
	f, err := scanFlow(s.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	return f, wrap("flow by id", err)
}

// FlowsByAccount returns the account's flows created at or after since,
// newest first.
func (db *DB) FlowsByAccount(ctx context.Context, accountID string, since time.Time) ([]monban.Flow, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+flowColumns+` FROM flows
		WHERE account_id = ? AND created_at >= ? ORDER BY created_at DESC, id`), accountID, micros(since))
	if err != nil {
		return nil, wrap("flows by account", err)
	}
	defer rows.Close()
	flows := []monban.Flow{}
	for rows.Next() {
		f, err := scanFlow(rows)
		if err != nil {
			return nil, wrap("flows by account", err)
		}
		flows = append(flows, *f)
	}
	return flows, wrap("flows by account", rows.Err())
}

// MessagesByFlow returns the messages sent in a flow, newest first.
func (db *DB) MessagesByFlow(ctx context.Context, flowID string) ([]monban.Message, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+messageColumns+` FROM messages
		WHERE flow_id = ? AND flow_id <> '' ORDER BY created_at DESC, id DESC`), flowID)
	if err != nil {
		return nil, wrap("messages by flow", err)
	}
	defer rows.Close()
	msgs := []monban.Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, wrap("messages by flow", err)
		}
		msgs = append(msgs, *m)
	}
	return msgs, wrap("messages by flow", rows.Err())
}
