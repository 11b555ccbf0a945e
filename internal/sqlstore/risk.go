package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/monban-dev/monban"
)

// Risk signals and their buckets. Ingestion is one transaction per batch:
// the raw signals in multi-row INSERTs and the bucket deltas (merged in
// memory by the caller, so no key repeats within a statement) as
// multi-row upserts. Both databases speak INSERT … ON CONFLICT … DO UPDATE.

// rowsPerInsert bounds the rows of one multi-row statement, well under
// either database's limit on bound parameters.
const rowsPerInsert = 400

// IngestSignals stores signals and adds deltas to their buckets, in one
// transaction (on PostgreSQL one round trip: inWrites).
func (db *DB) IngestSignals(ctx context.Context, sigs []monban.Signal, deltas []monban.RiskBucket) error {
	return db.inWrites(ctx, "ingest signals", func(w *writer) error {
		err := w.rows(ctx, `INSERT INTO risk_signals
			(at, account_id, type, ip, device_id, phone, amount, currency, instrument, attrs) VALUES `, "", 10, len(sigs),
			func(i int, args []any) ([]any, error) {
				s := &sigs[i]
				var attrs sql.NullString
				if len(s.Attrs) > 0 {
					b, err := json.Marshal(s.Attrs)
					if err != nil {
						return nil, err
					}
					attrs = sql.NullString{String: string(b), Valid: true}
				}
				return append(args, micros(s.At), s.AccountID, s.Type, s.IP, s.DeviceID, s.Phone, s.Amount,
					s.Currency, s.Instrument, attrs), nil
			})
		if err != nil {
			return err
		}
		return w.rows(ctx, `INSERT INTO risk_buckets (subject, res, start, type, filter, n, total) VALUES `, `
			ON CONFLICT (subject, res, start, type, filter)
			DO UPDATE SET n = risk_buckets.n + excluded.n, total = risk_buckets.total + excluded.total`, 7, len(deltas),
			func(i int, args []any) ([]any, error) {
				d := &deltas[i]
				return append(args, d.Subject, int64(d.Res/time.Second), micros(d.Start), d.Type, d.Filter, d.N, d.Total), nil
			})
	})
}

// RiskBuckets returns the buckets of resolution res that start at or
// after since, for the subjects and types given (all types when types is
// empty).
func (db *DB) RiskBuckets(ctx context.Context, subjects []string, res time.Duration, since time.Time, types []string) ([]monban.RiskBucket, error) {
	var out []monban.RiskBucket
	for _, args := range inChunks(subjects, "") {
		q := `SELECT subject, start, type, filter, n, total FROM risk_buckets
			WHERE subject IN (` + placeholders(len(args)) + `) AND res = ? AND start >= ?`
		args = append(args, int64(res/time.Second), micros(since))
		if len(types) > 0 {
			q += ` AND type IN (` + placeholders(len(types)) + `)`
			for _, t := range types {
				args = append(args, t)
			}
		}
		st, err := db.stmt(ctx, q)
		if err != nil {
			return nil, wrap("risk buckets", err)
		}
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			return nil, wrap("risk buckets", err)
		}
		for rows.Next() {
			b := monban.RiskBucket{Res: res}
			var start int64
			if err := rows.Scan(&b.Subject, &start, &b.Type, &b.Filter, &b.N, &b.Total); err != nil {
				rows.Close()
				return nil, wrap("risk buckets", err)
			}
			b.Start = fromMicros(start)
			out = append(out, b)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, wrap("risk buckets", err)
		}
	}
	return out, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// RecordDecisions stores rule matches.
func (db *DB) RecordDecisions(ctx context.Context, ds []monban.RiskDecision) error {
	if len(ds) == 0 {
		return nil
	}
	return db.inTx(ctx, "record decisions", func(tx *sql.Tx) error {
		return db.execRows(ctx, tx, `INSERT INTO risk_decisions
			(at, account_id, rule_id, rule_version, action, shadow, signal_type) VALUES `, "", 7, len(ds),
			func(i int, args []any) ([]any, error) {
				d := &ds[i]
				return append(args, micros(d.At), d.AccountID, d.RuleID, d.RuleVersion, d.Action, d.Shadow, d.SignalType), nil
			})
	})
}

// Signals returns up to limit signals with at in [since, until) and id
// above afterID, in id order, for dry runs of a rules file.
func (db *DB) Signals(ctx context.Context, since, until time.Time, afterID int64, limit int) ([]monban.Signal, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, at, account_id, type, ip, device_id, phone, amount, currency, instrument, attrs
		FROM risk_signals WHERE id > ? AND at >= ? AND at < ? ORDER BY id LIMIT ?`), afterID, micros(since), micros(until), limit)
	if err != nil {
		return nil, wrap("signals", err)
	}
	defer rows.Close()
	var out []monban.Signal
	for rows.Next() {
		var s monban.Signal
		var at int64
		var attrs sql.NullString
		if err := rows.Scan(&s.ID, &at, &s.AccountID, &s.Type, &s.IP, &s.DeviceID, &s.Phone, &s.Amount, &s.Currency,
			&s.Instrument, &attrs); err != nil {
			return nil, wrap("signals", err)
		}
		s.At = fromMicros(at)
		if attrs.Valid && attrs.String != "" {
			if err := json.Unmarshal([]byte(attrs.String), &s.Attrs); err != nil {
				return nil, wrap("signals", err)
			}
		}
		out = append(out, s)
	}
	return out, wrap("signals", rows.Err())
}

// RecentSignalIDs returns the ids of the account's latest signals at or
// after since, newest first: the evidence a lock points to.
func (db *DB) RecentSignalIDs(ctx context.Context, accountID string, since time.Time, limit int) ([]int64, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id FROM risk_signals WHERE account_id = ? AND at >= ?
		ORDER BY at DESC, id DESC LIMIT ?`), accountID, micros(since), limit)
	if err != nil {
		return nil, wrap("recent signal ids", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, wrap("recent signal ids", err)
		}
		out = append(out, id)
	}
	return out, wrap("recent signal ids", rows.Err())
}

// PruneRisk drops signals and decisions older than retention, and buckets
// no window can reach any more: minutes after a day, hours after a week,
// days after retention.
func (db *DB) PruneRisk(ctx context.Context, now time.Time, retention time.Duration) (int64, error) {
	var total int64
	err := db.inTx(ctx, "prune risk", func(tx *sql.Tx) error {
		stmts := []struct {
			q    string
			args []any
		}{
			{`DELETE FROM risk_signals WHERE at < ?`, []any{micros(now.Add(-retention))}},
			{`DELETE FROM risk_decisions WHERE at < ?`, []any{micros(now.Add(-retention))}},
			{`DELETE FROM risk_buckets WHERE res = 60 AND start < ?`, []any{micros(now.Add(-24 * time.Hour))}},
			{`DELETE FROM risk_buckets WHERE res = 3600 AND start < ?`, []any{micros(now.Add(-7 * 24 * time.Hour))}},
			{`DELETE FROM risk_buckets WHERE res = 86400 AND start < ?`, []any{micros(now.Add(-retention - 24*time.Hour))}},
		}
		for _, s := range stmts {
			res, err := tx.ExecContext(ctx, db.q(s.q), s.args...)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			total += n
		}
		return nil
	})
	return total, err
}
