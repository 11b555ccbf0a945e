package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/monban-dev/monban"
)

// Bulk writes for benchmarks (monban bench rollback): they build a large
// incident quickly and reset it between rounds. They write no notices and
// no audit entries; nothing else calls them. On PostgreSQL they COPY, on a
// connection that waits as long as the server needs (a million rows take
// longer than pgResponseTimeout).

// BenchAccounts inserts accounts, each with a verified email address
// "<id>@bench.example", half of them in English.
func (db *DB) BenchAccounts(ctx context.Context, ids []string, at time.Time) error {
	lang := func(i int) string {
		if i%2 == 1 {
			return "en"
		}
		return "ja"
	}
	if db.d.name == dialectPostgres {
		return db.benchCopy(ctx, func(c *pgx.Conn) error {
			if _, err := c.CopyFrom(ctx, pgx.Identifier{"accounts"}, []string{"id", "status", "password_hash", "lang", "created_at", "updated_at"},
				copyRows(len(ids), func(i int) []any {
					return []any{ids[i], string(monban.AccountActive), "x", lang(i), micros(at), micros(at)}
				})); err != nil {
				return err
			}
			if _, err := c.CopyFrom(ctx, pgx.Identifier{"identifiers"}, []string{"kind", "value", "account_id", "verified", "created_at"},
				copyRows(len(ids), func(i int) []any {
					return []any{string(monban.KindEmail), ids[i] + "@bench.example", ids[i], true, micros(at)}
				})); err != nil {
				return err
			}
			// Statistics, as a database in use has them.
			_, err := c.Exec(ctx, "ANALYZE accounts, identifiers")
			return err
		})
	}
	return db.inTx(ctx, "bench accounts", func(tx *sql.Tx) error {
		for i := 0; i < len(ids); i += rowsPerInsert {
			part := ids[i:min(i+rowsPerInsert, len(ids))]
			var accs, idents []any
			for j, id := range part {
				accs = append(accs, id, string(monban.AccountActive), "x", lang(i+j), micros(at), micros(at))
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
	row := func(l *monban.Lock) []any {
		return []any{l.ID, l.AccountID, string(l.Kind), l.Category, l.RuleID, l.RuleVersion, l.Evidence,
			joinWays(l.WaysOut), micros(l.CreatedAt), micros(l.ExpiresAt), int64(0), "", ""}
	}
	if db.d.name == dialectPostgres {
		return db.benchCopy(ctx, func(c *pgx.Conn) error {
			_, err := c.CopyFrom(ctx, pgx.Identifier{"locks"}, []string{"id", "account_id", "kind", "category", "rule_id",
				"rule_version", "evidence", "ways_out", "created_at", "expires_at", "lifted_at", "lifted_by", "lifted_how"},
				copyRows(len(locks), func(i int) []any { return row(&locks[i]) }))
			return err
		})
	}
	return db.inTx(ctx, "bench locks", func(tx *sql.Tx) error {
		for i := 0; i < len(locks); i += rowsPerInsert {
			part := locks[i:min(i+rowsPerInsert, len(locks))]
			var args []any
			for j := range part {
				args = append(args, row(&part[j])...)
			}
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO locks (`+lockColumns+`) VALUES `+valuesList(len(part), 13)), args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// BenchRelock puts every lock of a rule back in force. On PostgreSQL it
// then vacuums the table, so that each round starts from the same state
// instead of from the dead row versions of the round before.
func (db *DB) BenchRelock(ctx context.Context, ruleID string) error {
	const relock = `UPDATE locks SET lifted_at = 0, lifted_by = '', lifted_how = '' WHERE rule_id = ? AND lifted_at <> 0`
	if db.d.name == dialectPostgres {
		return db.benchCopy(ctx, func(c *pgx.Conn) error {
			if _, err := c.Exec(ctx, db.q(relock), ruleID); err != nil {
				return err
			}
			_, err := c.Exec(ctx, "VACUUM ANALYZE locks")
			return err
		})
	}
	return db.inTx(ctx, "bench relock", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(relock), ruleID)
		return err
	})
}

// benchCopy runs fn on a pooled PostgreSQL connection that waits as long
// as the server needs.
func (db *DB) benchCopy(ctx context.Context, fn func(c *pgx.Conn) error) error {
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return wrap("bench", err)
	}
	defer conn.Close()
	if err := setPatient(conn, true); err != nil {
		return wrap("bench", err)
	}
	defer setPatient(conn, false)
	return wrap("bench", conn.Raw(func(dc any) error { return fn(dc.(*stdlib.Conn).Conn()) }))
}

// copyRows is a CopyFrom source of n rows.
func copyRows(n int, row func(i int) []any) pgx.CopyFromSource {
	i := -1
	return pgx.CopyFromFunc(func() ([]any, error) {
		if i++; i >= n {
			return nil, nil
		}
		return row(i), nil
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
