package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/monban-dev/monban"
)

// Bulk writes for benchmarks (monban bench rollback): they build a large
// incident quickly and reset it between rounds. They write no notices and
// no audit entries; nothing else calls them.

// BenchAccounts inserts accounts, each with a verified email address
// "<id>@bench.example".
func (db *DB) BenchAccounts(ctx context.Context, ids []string, at time.Time) error {
	return db.inTx(ctx, "bench accounts", func(tx *sql.Tx) error {
		for i := 0; i < len(ids); i += rowsPerInsert {
			part := ids[i:min(i+rowsPerInsert, len(ids))]
			var accs, idents []any
			for j, id := range part {
				lang := "ja"
				if (i+j)%2 == 1 {
					lang = "en"
				}
				accs = append(accs, id, string(monban.AccountActive), "x", lang, micros(at), micros(at))
				idents = append(idents, string(monban.KindEmail), id+"@bench.example", id, true, micros(at))
			}
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO accounts (id, status, password_hash, lang, created_at, updated_at)
				VALUES `+valuesList(len(part), 6)), accs...); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO identifiers (kind, value, account_id, verified, created_at)
				VALUES `+valuesList(len(part), 5)), idents...); err != nil {
				return err
			}
		}
		return nil
	})
}

// BenchLocks inserts locks in force, without notices.
func (db *DB) BenchLocks(ctx context.Context, locks []monban.Lock) error {
	return db.inTx(ctx, "bench locks", func(tx *sql.Tx) error {
		for i := 0; i < len(locks); i += rowsPerInsert {
			part := locks[i:min(i+rowsPerInsert, len(locks))]
			var args []any
			for _, l := range part {
				args = append(args, l.ID, l.AccountID, string(l.Kind), l.Category, l.RuleID, l.RuleVersion, l.Evidence,
					joinWays(l.WaysOut), micros(l.CreatedAt), micros(l.ExpiresAt), 0, "", "")
			}
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO locks (`+lockColumns+`) VALUES `+valuesList(len(part), 13)), args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// BenchRelock puts every lock of a rule back in force.
func (db *DB) BenchRelock(ctx context.Context, ruleID string) error {
	return db.inTx(ctx, "bench relock", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`UPDATE locks SET lifted_at = 0, lifted_by = '', lifted_how = '' WHERE rule_id = ?`), ruleID)
		return err
	})
}

// BenchLiftBare lifts locks by id and nothing else: the floor a rollback
// batch stands on.
func (db *DB) BenchLiftBare(ctx context.Context, ids []string, at time.Time) error {
	return db.inTx(ctx, "bench lift", func(tx *sql.Tx) error {
		for i := 0; i < len(ids); i += rowsPerInsert {
			part := ids[i:min(i+rowsPerInsert, len(ids))]
			args := []any{micros(at)}
			for _, id := range part {
				args = append(args, id)
			}
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE locks SET lifted_at = ?, lifted_by = 'bench', lifted_how = 'bare'
				WHERE lifted_at = 0 AND id IN (`+placeholders(len(part))+`)`), args...); err != nil {
				return err
			}
		}
		return nil
	})
}
