package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/monban-dev/monban"
)

// The message center. A notice and the outbox messages that carry it are
// written in one transaction: store methods whose state change warrants a
// notice (a lock, a contact change…) call insertNotice with their own tx,
// so the notice exists exactly when the change does.

const noticeColumns = `id, ref, account_id, topic, lang, params, created_at, read_at`

// errRefTaken means a new notice drew a reference already in use (40 random
// bits: rare). The caller draws another and tries again.
func errRefTaken() error { return monban.Errorf(monban.EConflict, "notice.ref_taken") }

// insertNotice stores n and queues msgs, each marked as carrying n, inside
// tx. Messages without an AccountID get n's.
func (db *DB) insertNotice(ctx context.Context, tx *sql.Tx, n *monban.Notice, msgs []*monban.Message) error {
	var params sql.NullString
	if len(n.Params) > 0 {
		b, err := json.Marshal(n.Params)
		if err != nil {
			return err
		}
		params = sql.NullString{String: string(b), Valid: true}
	}
	// A savepoint keeps the caller's transaction usable after a repeated
	// reference: PostgreSQL aborts the whole transaction on any error.
	if _, err := tx.ExecContext(ctx, "SAVEPOINT notice_ref"); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO notices (`+noticeColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		n.ID, n.Ref, n.AccountID, n.Topic, n.Lang, params, micros(n.CreatedAt), micros(n.ReadAt))
	if err != nil {
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT notice_ref"); rerr != nil {
			return errors.Join(err, rerr)
		}
		if isUniqueViolation(err) {
			return errRefTaken()
		}
		return err
	}
	if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT notice_ref"); err != nil {
		return err
	}
	for _, m := range msgs {
		if m.AccountID == "" {
			m.AccountID = n.AccountID
		}
		if err := db.insertMessage(ctx, tx, m); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE messages SET notice_id = ? WHERE id = ?`), n.ID, m.ID); err != nil {
			return err
		}
	}
	return nil
}

// EnqueueNotice stores a notice whose cause is already recorded, and queues
// its messages, in one transaction. A reference already in use is
// EConflict "notice.ref_taken" and writes nothing.
func (db *DB) EnqueueNotice(ctx context.Context, n *monban.Notice, msgs []*monban.Message) error {
	return db.inTx(ctx, "enqueue notice", func(tx *sql.Tx) error {
		return db.insertNotice(ctx, tx, n, msgs)
	})
}

// NoticesByAccount returns up to limit of the account's notices, newest
// first, and how many of all its notices are unread.
func (db *DB) NoticesByAccount(ctx context.Context, accountID string, limit int) ([]monban.Notice, int, error) {
	if limit <= 0 {
		limit = 50
	}
	s, err := db.stmt(ctx, `SELECT `+noticeColumns+` FROM notices WHERE account_id = ?
		ORDER BY created_at DESC, id DESC LIMIT ?`)
	if err != nil {
		return nil, 0, wrap("notices by account", err)
	}
	rows, err := s.QueryContext(ctx, accountID, limit)
	if err != nil {
		return nil, 0, wrap("notices by account", err)
	}
	defer rows.Close()
	out := []monban.Notice{}
	for rows.Next() {
		n, err := scanNotice(rows)
		if err != nil {
			return nil, 0, wrap("notices by account", err)
		}
		out = append(out, *n)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, wrap("notices by account", err)
	}
	var unread int
	err = db.r.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM notices WHERE account_id = ? AND read_at = 0`),
		accountID).Scan(&unread)
	return out, unread, wrap("notices by account", err)
}

// NoticeByRef returns the notice with the canonical reference ref, or
// ENotFound.
func (db *DB) NoticeByRef(ctx context.Context, ref string) (*monban.Notice, error) {
	s, err := db.stmt(ctx, `SELECT `+noticeColumns+` FROM notices WHERE ref = ?`)
	if err != nil {
		return nil, wrap("notice by ref", err)
	}
	n, err := scanNotice(s.QueryRowContext(ctx, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	return n, wrap("notice by ref", err)
}

// MessagesByNotice returns the messages that carried a notice, oldest
// first.
func (db *DB) MessagesByNotice(ctx context.Context, noticeID string) ([]monban.Message, error) {
	s, err := db.stmt(ctx, `SELECT `+messageColumns+` FROM messages WHERE notice_id = ? ORDER BY created_at, id`)
	if err != nil {
		return nil, wrap("messages by notice", err)
	}
	rows, err := s.QueryContext(ctx, noticeID)
	if err != nil {
		return nil, wrap("messages by notice", err)
	}
	defer rows.Close()
	out := []monban.Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, wrap("messages by notice", err)
		}
		out = append(out, *m)
	}
	return out, wrap("messages by notice", rows.Err())
}

// MarkNoticesRead marks the account's notices ids read at at (all of its
// unread notices when ids is empty) and returns how many changed. Another
// account's ids change nothing.
func (db *DB) MarkNoticesRead(ctx context.Context, accountID string, ids []string, at time.Time) (int, error) {
	var total int64
	err := db.inTx(ctx, "mark notices read", func(tx *sql.Tx) error {
		if len(ids) == 0 {
			res, err := tx.ExecContext(ctx, db.q(`UPDATE notices SET read_at = ? WHERE account_id = ? AND read_at = 0`),
				micros(at), accountID)
			if err != nil {
				return err
			}
			total, err = res.RowsAffected()
			return err
		}
		for _, id := range ids {
			res, err := tx.ExecContext(ctx, db.q(`UPDATE notices SET read_at = ? WHERE id = ? AND account_id = ? AND read_at = 0`),
				micros(at), id, accountID)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	return int(total), err
}

func scanNotice(sc scanner) (*monban.Notice, error) {
	var n monban.Notice
	var params sql.NullString
	var created, read int64
	if err := sc.Scan(&n.ID, &n.Ref, &n.AccountID, &n.Topic, &n.Lang, &params, &created, &read); err != nil {
		return nil, err
	}
	n.CreatedAt, n.ReadAt = fromMicros(created), fromMicros(read)
	if params.Valid && params.String != "" {
		if err := json.Unmarshal([]byte(params.String), &n.Params); err != nil {
			return nil, err
		}
	}
	return &n, nil
}
