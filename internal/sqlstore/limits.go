package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/monban-dev/monban"
)

// Windowed limits: one limit_counters row per key and window, bumped with an
// atomic upsert so that the count is right across connections and nodes.
// Callers bump inside the transaction of what they limit; a refusal rolls
// the transaction back, so a refused try is neither counted nor done.

// bumpLimits adds one to the current window of each limit and returns the
// new counts, in the order of limits. Counters are bumped in key order so
// that two transactions sharing keys cannot deadlock on PostgreSQL.
func (db *DB) bumpLimits(ctx context.Context, tx *sql.Tx, now time.Time, limits []monban.Limit) ([]int, error) {
	counts := make([]int, len(limits))
	order := make([]int, 0, len(limits))
	for i, l := range limits {
		if l.Max > 0 {
			order = append(order, i)
		}
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(limits[a].Key, limits[b].Key) })
	for _, i := range order {
		l := limits[i]
		start := l.Bucket(now)
		err := db.txQueryRow(ctx, tx, `INSERT INTO limit_counters (key, window_start, n, expires_at)
			VALUES (?, ?, 1, ?)
			ON CONFLICT (key, window_start) DO UPDATE SET n = limit_counters.n + 1
			RETURNING n`,
			l.Key, micros(start), micros(start.Add(l.Window))).Scan(&counts[i])
		if err != nil {
			return nil, err
		}
	}
	return counts, nil
}

// bucket is one Step-long counter of a rolling limit.
type bucket struct {
	start time.Time
	n     int
}

// rollingBuckets reads the buckets of a rolling limit that are still in
// its window at now, oldest first, in tx or on the read pool.
func (db *DB) rollingBuckets(ctx context.Context, tx *sql.Tx, now time.Time, l monban.Limit) ([]bucket, error) {
	query := `SELECT window_start, n FROM limit_counters WHERE key = ? AND window_start > ? ORDER BY window_start`
	since := micros(now.Add(-l.Window))
	var rows *sql.Rows
	var err error
	if tx != nil {
		rows, err = db.txQuery(ctx, tx, query, l.Key, since)
	} else {
		var st *sql.Stmt
		if st, err = db.stmt(ctx, query); err == nil {
			rows, err = st.QueryContext(ctx, l.Key, since)
		}
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []bucket
	for rows.Next() {
		var start int64
		var n int
		if err := rows.Scan(&start, &n); err != nil {
			return nil, err
		}
		out = append(out, bucket{time.UnixMicro(start).UTC(), n})
	}
	return out, rows.Err()
}

// rollingEnd is when a rolling limit allows a try again, given the tries
// it holds before this one (before): the oldest buckets leave the window
// one by one until fewer than Max remain.
func rollingEnd(l monban.Limit, buckets []bucket, before int) time.Time {
	for _, b := range buckets {
		if before < l.Max {
			break
		}
		before -= b.n
		if before < l.Max {
			return b.start.Add(l.Window)
		}
	}
	return time.Time{}
}

// rolling sums the rolling limits' windows: counts[i] becomes the tries in
// the last Window, and ends[i] when a try is allowed again should the
// limit be over (before(n) tries counted before the one asked for).
func (db *DB) rolling(ctx context.Context, tx *sql.Tx, now time.Time, limits []monban.Limit, counts []int, before func(n int) int) ([]time.Time, error) {
	ends := make([]time.Time, len(limits))
	for i, l := range limits {
		if l.Max <= 0 || l.Step <= 0 {
			continue
		}
		bs, err := db.rollingBuckets(ctx, tx, now, l)
		if err != nil {
			return nil, err
		}
		counts[i] = 0
		for _, b := range bs {
			counts[i] += b.n
		}
		ends[i] = rollingEnd(l, bs, before(counts[i]))
	}
	return ends, nil
}

// hitLimits counts one try against each limit, or returns RateLimited when
// any limit is over: the key of the limit that allows a try latest, and the
// time when all of them do. The caller must roll tx back on that error.
func (db *DB) hitLimits(ctx context.Context, tx *sql.Tx, now time.Time, limits []monban.Limit) error {
	counts, err := db.bumpLimits(ctx, tx, now, limits)
	if err != nil {
		return err
	}
	ends, err := db.rolling(ctx, tx, now, limits, counts, func(n int) int { return n - 1 })
	if err != nil {
		return err
	}
	return refusal(now, limits, counts, ends, func(n, max int) bool { return n > max })
}

// refusal returns RateLimited naming every limit whose count is over, or
// nil; ends[i], when set, is when rolling limit i allows a try again.
func refusal(now time.Time, limits []monban.Limit, counts []int, ends []time.Time, over func(n, max int) bool) error {
	var exceeded []monban.Limit
	var key string
	var retryAt time.Time
	for i, l := range limits {
		if l.Max <= 0 || !over(counts[i], l.Max) {
			continue
		}
		exceeded = append(exceeded, l)
		end := l.WindowStart(now).Add(l.Window)
		if l.Step > 0 {
			end = ends[i]
		}
		if end.After(retryAt) {
			key, retryAt = l.Err, end
		}
	}
	if exceeded == nil {
		return nil
	}
	return monban.RateLimited(key, retryAt).Wrap(&monban.LimitExceeded{Limits: exceeded})
}

// HitLimits counts one try against each limit in its own transaction: all
// are counted, or, when any is over, none.
func (db *DB) HitLimits(ctx context.Context, now time.Time, limits []monban.Limit) error {
	return db.inTx(ctx, "hit limits", func(tx *sql.Tx) error {
		return db.hitLimits(ctx, tx, now, limits)
	})
}

// ReleaseLimits gives back one try that HitLimits counted at now: the
// window of now loses one, never going below zero (a window that ended and
// was pruned meanwhile has nothing to give back).
func (db *DB) ReleaseLimits(ctx context.Context, now time.Time, limits []monban.Limit) error {
	return db.inTx(ctx, "release limits", func(tx *sql.Tx) error {
		for _, l := range limits {
			if l.Max <= 0 {
				continue
			}
			if _, err := db.txExec(ctx, tx, `UPDATE limit_counters SET n = n - 1
				WHERE key = ? AND window_start = ? AND n > 0`, l.Key, micros(l.WindowStart(now))); err != nil {
				return err
			}
		}
		return nil
	})
}

// limitCounts reads the current window's count of each limit, in one
// statement (a sign-in peeks at two limits before its hash), in tx or,
// when tx is nil, on the read pool.
func (db *DB) limitCounts(ctx context.Context, tx *sql.Tx, now time.Time, limits []monban.Limit) ([]int, error) {
	counts := make([]int, len(limits))
	var where []string
	var args []any
	for _, l := range limits {
		if l.Max > 0 && l.Step <= 0 {
			where = append(where, "(key = ? AND window_start = ?)")
			args = append(args, l.Key, micros(l.WindowStart(now)))
		}
	}
	if len(where) == 0 {
		return counts, nil
	}
	query := `SELECT key, window_start, n FROM limit_counters WHERE ` + strings.Join(where, " OR ")
	var rows *sql.Rows
	var err error
	if tx != nil {
		rows, err = db.txQuery(ctx, tx, query, args...)
	} else {
		var st *sql.Stmt
		if st, err = db.stmt(ctx, query); err == nil {
			rows, err = st.QueryContext(ctx, args...)
		}
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var start int64
		var n int
		if err := rows.Scan(&key, &start, &n); err != nil {
			return nil, err
		}
		for i, l := range limits {
			if l.Max > 0 && l.Step <= 0 && l.Key == key && micros(l.WindowStart(now)) == start {
				counts[i] = n
			}
		}
	}
	return counts, rows.Err()
}

// checkLimits returns RateLimited if any limit is already used up, without
// counting anything.
func (db *DB) checkLimits(ctx context.Context, tx *sql.Tx, now time.Time, limits []monban.Limit) error {
	counts, err := db.limitCounts(ctx, tx, now, limits)
	if err != nil {
		return err
	}
	ends, err := db.rolling(ctx, tx, now, limits, counts, func(n int) int { return n })
	if err != nil {
		return err
	}
	return refusal(now, limits, counts, ends, func(n, max int) bool { return n >= max })
}

// PeekLimits returns the earliest time at which every limit allows one more
// try: now when they already do. It counts nothing, so pages can show the
// next allowed time before the person asks.
func (db *DB) PeekLimits(ctx context.Context, now time.Time, limits []monban.Limit) (time.Time, error) {
	err := db.checkLimits(ctx, nil, now, limits)
	if e, ok := monban.AsError(err); ok && e.Code == monban.ERateLimited {
		return e.RetryAt, nil
	}
	if err != nil {
		return time.Time{}, wrap("peek limits", err)
	}
	return now, nil
}

// PruneLimitCounters deletes the counters of windows that have ended and
// returns how many went.
func (db *DB) PruneLimitCounters(ctx context.Context, now time.Time) (int64, error) {
	res, err := db.w.ExecContext(ctx, db.q(`DELETE FROM limit_counters WHERE expires_at <= ?`), micros(now))
	if err != nil {
		return 0, wrap("prune limit counters", err)
	}
	n, err := res.RowsAffected()
	return n, wrap("prune limit counters", err)
}
