package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/monban-dev/monban"
)

// Sign-in failure counters (the throttle capability): one row per key, claimed
// under a row lock so that concurrent tries on any node take turns.

// ClaimAttempt reads the counters of keys (in the order given, which the
// caller sorts so that two claims cannot deadlock), lets decide judge them
// and, when it allows the try, counts one failure on each.
func (db *DB) ClaimAttempt(ctx context.Context, now time.Time, keys []string, decide func([]monban.FailureCount) error) error {
	return db.inTx(ctx, "claim attempt", func(tx *sql.Tx) error {
		states := make([]monban.FailureCount, len(keys))
		for i, k := range keys {
			// One upsert that locks and returns the row: an insert-if-missing
			// followed by SELECT … FOR UPDATE found no row when a successful
			// sign-in's reset deleted it in between (a 500 under concurrent
			// sign-ins to one account on PostgreSQL).
			var last int64
			err := db.txQueryRow(ctx, tx, `INSERT INTO throttle_counters (key, failures, last_failure_at)
				VALUES (?, 0, 0) ON CONFLICT (key) DO UPDATE SET failures = throttle_counters.failures
				RETURNING failures, last_failure_at`, k).Scan(&states[i].Failures, &last)
			if err != nil {
				return err
			}
			states[i].LastFailure = fromMicros(last)
		}
		if err := decide(states); err != nil {
			return err
		}
		for _, k := range keys {
			if _, err := db.txExec(ctx, tx, `UPDATE throttle_counters
				SET failures = failures + 1, last_failure_at = ? WHERE key = ?`, micros(now), k); err != nil {
				return err
			}
		}
		return nil
	})
}

// ResetThrottle sets the counters of keys back to zero failures. It runs
// after every successful sign-in: one statement, no explicit transaction
// (on PostgreSQL that is one round trip instead of three).
func (db *DB) ResetThrottle(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	_, err := db.w.ExecContext(ctx, db.q(`DELETE FROM throttle_counters WHERE key IN (`+placeholders(len(keys))+`)`), args...)
	return wrap("reset throttle", err)
}

// ClearThrottle deletes every counter whose key starts with prefix.
func (db *DB) ClearThrottle(ctx context.Context, prefix string) error {
	_, err := db.w.ExecContext(ctx, db.q(`DELETE FROM throttle_counters WHERE substr(key, 1, ?) = ?`),
		len(prefix), prefix)
	return wrap("clear throttle", err)
}

// ThrottleState returns a counter's state (zero when absent).
func (db *DB) ThrottleState(ctx context.Context, key string) (monban.FailureCount, error) {
	var s monban.FailureCount
	var last int64
	err := db.r.QueryRowContext(ctx, db.q(`SELECT failures, last_failure_at FROM throttle_counters WHERE key = ?`), key).
		Scan(&s.Failures, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return s, nil
	}
	s.LastFailure = fromMicros(last)
	return s, wrap("throttle state", err)
}

// PruneThrottle deletes counters untouched since before and below keep
// failures (a disabled authenticator stays disabled until recovery).
func (db *DB) PruneThrottle(ctx context.Context, before time.Time, keep int) (int64, error) {
	res, err := db.w.ExecContext(ctx, db.q(`DELETE FROM throttle_counters WHERE last_failure_at < ? AND failures < ?`),
		micros(before), keep)
	if err != nil {
		return 0, wrap("prune throttle", err)
	}
	n, err := res.RowsAffected()
	return n, wrap("prune throttle", err)
}

// DeviceKnown reports whether the account has a record of the device.
func (db *DB) DeviceKnown(ctx context.Context, accountID, deviceID string) (bool, error) {
	var n int
	err := db.r.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM devices WHERE account_id = ? AND id = ?`),
		accountID, deviceID).Scan(&n)
	return n > 0, wrap("device known", err)
}
