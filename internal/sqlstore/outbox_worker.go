package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/monban-dev/monban"
)

// The outbox as the delivery worker sees it: claim due messages under a
// lease, record each attempt's outcome, apply delivery receipts. Every state
// change is conditional on the state the caller saw, so a worker whose lease
// ran out, or a late or repeated receipt, cannot overwrite a newer state.

// Due messages are found by two conditions, each an index range on
// (status, next_attempt_at) that stops at the limit: an OR of the two would
// read every queued row on each claim.
const (
	// queuedDue: queued and due. Parameter: now.
	queuedDue = `status = 'queued' AND next_attempt_at <= ?`
	// leaseLapsed: left "sending" by a worker whose lease ran out (a node
	// that died mid-send). Parameter: now.
	leaseLapsed = `status = 'sending' AND lease_until < ?`
)

// reasonExpired is recorded on messages whose lifetime ended before a send.
const reasonExpired = "expired before it could be sent"

// ClaimMessages takes up to limit due messages, oldest first, for one
// attempt each: messages queued with next_attempt_at <= now, and messages
// whose previous worker's lease has lapsed. They become "sending" with a
// lease until now+lease, and their attempt count goes up. Claimed messages
// whose ExpiresAt has passed become "expired" instead and are not returned.
// On PostgreSQL concurrent claimers skip each other's rows (FOR UPDATE SKIP
// LOCKED); on SQLite the transaction holds the write lock from its start.
func (db *DB) ClaimMessages(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]monban.Message, error) {
	if limit <= 0 {
		return nil, nil
	}
	// Most polls find nothing. A read tells so without a write
	// transaction, which on SQLite would take the write lock and count as
	// a commit, emptying the session-check cache twice a second.
	if due, err := db.anyDue(ctx, `SELECT 1 FROM messages WHERE `+leaseLapsed+`
		UNION ALL SELECT 1 FROM messages WHERE `+queuedDue+` LIMIT 1`, now); err != nil || !due {
		return nil, err
	}
	var out []monban.Message
	err := db.inTx(ctx, "claim messages", func(tx *sql.Tx) error {
		var claimed []monban.Message
		for _, cond := range []string{leaseLapsed, queuedDue} {
			ms, err := db.claimWhere(ctx, tx, cond, now, lease, limit-len(claimed))
			if err != nil {
				return err
			}
			if claimed = append(claimed, ms...); len(claimed) == limit {
				break
			}
		}
		for _, m := range claimed {
			if m.ExpiresAt.IsZero() || m.ExpiresAt.After(now) {
				out = append(out, m)
				continue
			}
			_, err := tx.ExecContext(ctx, db.q(`UPDATE messages
				SET status = 'expired', attempts = attempts - 1, payload = NULL, lease_until = 0, reason = ?, updated_at = ?
				WHERE id = ?`), reasonExpired, micros(now), m.ID)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// RETURNING keeps no order.
	slices.SortFunc(out, func(a, b monban.Message) int {
		if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
			return c
		}
		return a.CreatedAt.Compare(b.CreatedAt)
	})
	return out, nil
}

// claimWhere claims up to limit rows matching cond (one parameter, now).
// MATERIALIZED: the locking subquery runs once; PostgreSQL may otherwise
// re-run an IN (… LIMIT …) subquery and claim more than limit rows. The
// update finds the rows by id alone: the subquery has checked and locked
// them, and repeating cond would lead SQLite to scan every due row.
func (db *DB) claimWhere(ctx context.Context, tx *sql.Tx, cond string, now time.Time, lease time.Duration, limit int) ([]monban.Message, error) {
	n := micros(now)
	rows, err := tx.QueryContext(ctx, db.q(`WITH due AS MATERIALIZED (
			SELECT id FROM messages WHERE `+cond+` ORDER BY next_attempt_at LIMIT ?`+db.d.skipLocked+`)
		UPDATE messages SET status = 'sending', lease_until = ?, attempts = attempts + 1, updated_at = ?
		WHERE id IN (SELECT id FROM due)
		RETURNING `+messageColumns),
		n, limit, micros(now.Add(lease)), n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []monban.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *m)
	}
	return out, rows.Err()
}

// MarkSent records that provider accepted message id (not that it arrived:
// only a receipt says delivered). The payload is erased: nothing sends it
// again. A receipt may have come first (the provider answered before this
// node recorded the send); then only the provider fields are filled in.
func (db *DB) MarkSent(ctx context.Context, id, provider, providerID string, now time.Time) (bool, error) {
	return db.execOne(ctx, "mark message sent", `UPDATE messages
		SET status = CASE WHEN status = 'sending' THEN 'sent' ELSE status END,
			provider = ?, provider_id = ?, sent_at = ?, lease_until = 0, payload = NULL, updated_at = ?
		WHERE id = ? AND (status = 'sending' OR (status IN ('delivered', 'failed', 'expired') AND sent_at = 0))`,
		provider, providerID, micros(now), micros(now), id)
}

// MarkRetry puts message id back in the queue until next, keeping reason
// (the last temporary failure) for people and agents.
func (db *DB) MarkRetry(ctx context.Context, id string, next time.Time, reason string, now time.Time) (bool, error) {
	return db.execOne(ctx, "mark message for retry", `UPDATE messages
		SET status = 'queued', next_attempt_at = ?, lease_until = 0, reason = ?, updated_at = ?
		WHERE id = ? AND status = 'sending'`,
		micros(next), reason, micros(now), id)
}

// MarkFailed records a failure that retrying cannot fix. Final.
func (db *DB) MarkFailed(ctx context.Context, id, reason string, now time.Time) (bool, error) {
	return db.markFinal(ctx, "mark message failed", id, monban.MessageFailed, reason, now)
}

// MarkAbandoned records that the retries ran out; reason is the last
// failure. Final.
func (db *DB) MarkAbandoned(ctx context.Context, id, reason string, now time.Time) (bool, error) {
	return db.markFinal(ctx, "mark message abandoned", id, monban.MessageAbandoned, reason, now)
}

func (db *DB) markFinal(ctx context.Context, op, id string, status monban.MessageStatus, reason string, now time.Time) (bool, error) {
	return db.execOne(ctx, op, `UPDATE messages
		SET status = ?, reason = ?, failed_at = ?, lease_until = 0, payload = NULL, updated_at = ?
		WHERE id = ? AND status = 'sending'`,
		string(status), reason, micros(now), micros(now), id)
}

// ApplyReceipt moves a sent message to delivered, failed or expired as a
// provider reports. The message is found by the provider's id, or by
// monban's id when the provider echoes it (then a receipt that overtakes
// MarkSent still counts). A receipt never changes a final state, so a
// repeated or late one is a no-op (applied false). A receipt saying only
// "sent" (accepted, buffered) changes nothing: accepted is not delivered.
func (db *DB) ApplyReceipt(ctx context.Context, provider, providerID, messageID string,
	status monban.MessageStatus, reason string, now time.Time) (applied bool, err error) {
	var at string
	switch status {
	case monban.MessageSent:
		return false, nil
	case monban.MessageDelivered:
		at = "delivered_at"
	case monban.MessageFailed, monban.MessageExpired:
		at = "failed_at"
	default:
		return false, monban.Errorf(monban.EInvalid, "receipt.status").WithField("status")
	}
	set := `UPDATE messages SET status = ?, reason = ?, ` + at + ` = ?, lease_until = 0, payload = NULL, updated_at = ? `
	args := []any{string(status), reason, micros(now), micros(now)}
	switch {
	case messageID != "":
		return db.execOne(ctx, "apply receipt", set+`WHERE id = ? AND provider IN (?, '') AND status IN ('sent', 'sending')`,
			append(args, messageID, provider)...)
	case provider != "" && providerID != "":
		return db.execOne(ctx, "apply receipt", set+`WHERE provider = ? AND provider <> '' AND provider_id = ? AND status = 'sent'`,
			append(args, provider, providerID)...)
	}
	return false, monban.Errorf(monban.EInvalid, "receipt.no_id").WithField("provider_id")
}

// execOne runs a conditional update of one row and reports whether it
// matched.
func (db *DB) execOne(ctx context.Context, op, query string, args ...any) (bool, error) {
	res, err := db.w.ExecContext(ctx, db.q(query), args...)
	if err != nil {
		return false, wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, wrap(op, err)
	}
	return n > 0, nil
}

// MessageByID returns one message, payload included (still sealed).
func (db *DB) MessageByID(ctx context.Context, id string) (*monban.Message, error) {
	s, err := db.stmt(ctx, `SELECT `+messageColumns+` FROM messages WHERE id = ?`)
	if err != nil {
		return nil, wrap("message by id", err)
	}
	m, err := scanMessage(s.QueryRowContext(ctx, id))
	if err == sql.ErrNoRows {
		return nil, notFound()
	}
	if err != nil {
		return nil, wrap("message by id", err)
	}
	return m, nil
}

// MessagesByAccount returns an account's latest messages, newest first.
func (db *DB) MessagesByAccount(ctx context.Context, accountID string, limit int) ([]monban.Message, error) {
	s, err := db.stmt(ctx, `SELECT `+messageColumns+` FROM messages WHERE account_id = ?
		ORDER BY created_at DESC, id DESC LIMIT ?`)
	if err != nil {
		return nil, wrap("messages by account", err)
	}
	rows, err := s.QueryContext(ctx, accountID, limit)
	if err != nil {
		return nil, wrap("messages by account", err)
	}
	defer rows.Close()
	var out []monban.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, wrap("messages by account", err)
		}
		out = append(out, *m)
	}
	return out, wrap("messages by account", rows.Err())
}

// DevMessage is one entry of the dev outbox: a rendered message with its
// code in clear, and the delivery status of its outbox row.
type DevMessage struct {
	MessageID   string
	Channel     monban.Channel
	Destination string
	Template    string // e.g. "code.sign_in"
	Lang        string
	Subject     string
	Body        string
	Code        string
	CreatedAt   time.Time
	Status      monban.MessageStatus // from messages; "" if the row is gone
	Reason      string
}

// AddDevMessage records what the dev sender "sent" for message m. A retry
// of the same message replaces the earlier entry.
func (db *DB) AddDevMessage(ctx context.Context, m *monban.Message, subject, body, code string, now time.Time) error {
	return db.inTx(ctx, "add dev message", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM dev_messages WHERE message_id = ?`), m.ID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO dev_messages
			(message_id, channel, destination, template, lang, subject, body, code, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			m.ID, string(m.Channel), m.Destination, m.Template, m.Lang, subject, body, code, micros(now))
		return err
	})
}

// DevMessages returns the dev outbox, newest first.
func (db *DB) DevMessages(ctx context.Context, limit int) ([]DevMessage, error) {
	s, err := db.stmt(ctx, `SELECT d.message_id, d.channel, d.destination, d.template, d.lang, d.subject, d.body,
			d.code, d.created_at, COALESCE(m.status, ''), COALESCE(m.reason, '')
		FROM dev_messages d LEFT JOIN messages m ON m.id = d.message_id
		ORDER BY d.created_at DESC, d.message_id DESC LIMIT ?`)
	if err != nil {
		return nil, wrap("dev messages", err)
	}
	rows, err := s.QueryContext(ctx, limit)
	if err != nil {
		return nil, wrap("dev messages", err)
	}
	defer rows.Close()
	var out []DevMessage
	for rows.Next() {
		var d DevMessage
		var channel, status string
		var created int64
		if err := rows.Scan(&d.MessageID, &channel, &d.Destination, &d.Template, &d.Lang, &d.Subject, &d.Body,
			&d.Code, &created, &status, &d.Reason); err != nil {
			return nil, wrap("dev messages", err)
		}
		d.Channel, d.Status, d.CreatedAt = monban.Channel(channel), monban.MessageStatus(status), fromMicros(created)
		out = append(out, d)
	}
	return out, wrap("dev messages", rows.Err())
}

// ExpireUndelivered marks messages that were accepted but never confirmed
// delivered before they stopped mattering (a code past its lifetime) as
// expired, so pages stop saying "sent" about a code that can no longer work.
func (db *DB) ExpireUndelivered(ctx context.Context, now time.Time) (int64, error) {
	res, err := db.w.ExecContext(ctx, db.q(`UPDATE messages SET status = 'expired', updated_at = ?
		WHERE status = 'sent' AND expires_at > 0 AND expires_at <= ?`), micros(now), micros(now))
	if err != nil {
		return 0, wrap("expire undelivered", err)
	}
	n, err := res.RowsAffected()
	return n, wrap("expire undelivered", err)
}

// anyDue runs query, a SELECT 1 … LIMIT 1 with two "now" parameters (one
// per branch of a UNION ALL, so each uses the status index), on
// the read pool and reports whether it found a row.
func (db *DB) anyDue(ctx context.Context, query string, now time.Time) (bool, error) {
	var one int
	err := db.r.QueryRowContext(ctx, db.q(query), micros(now), micros(now)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, wrap("look for due work", err)
}
