package sqlstore

import (
	"context"
	"database/sql"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// A write transaction that reads nothing between its statements (a
// session with its device and audit entries, a batch of risk signals with
// their buckets) needs no answer from one statement before sending the
// next. On PostgreSQL such a transaction goes as one pipeline (a pgx
// batch): the server runs the statements up to the batch's single Sync as
// one implicit transaction, all or nothing, and the node waits for one
// answer instead of one per statement plus BEGIN and COMMIT. Every round
// trip wakes a backend process that competes with argon2id for the CPUs
// (docs/benchmarks.md measures what they cost a sign-in). On SQLite, where
// a statement is a function call, the statements run in an ordinary
// transaction as they come.

// writer takes the statements of one write transaction.
type writer struct {
	db    *DB
	tx    *sql.Tx    // SQLite, or a caller's transaction
	batch *pgx.Batch // PostgreSQL: queued, sent by inWrites
}

// exec runs query now (in tx) or queues it (in the batch). Queued
// arguments are copied: callers reuse their argument slices.
func (w *writer) exec(ctx context.Context, query string, args ...any) error {
	if w.batch != nil {
		w.batch.Queue(w.db.q(query), slices.Clone(args)...)
		return nil
	}
	_, err := w.db.txExec(ctx, w.tx, query, args...)
	return err
}

// inWrites runs fn's statements as one transaction: on PostgreSQL in one
// round trip, on SQLite in inTx. fn must not read: on PostgreSQL nothing
// has run when it returns.
func (db *DB) inWrites(ctx context.Context, op string, fn func(w *writer) error) error {
	if db.d.name == dialectSQLite {
		return db.inTx(ctx, op, func(tx *sql.Tx) error { return fn(&writer{db: db, tx: tx}) })
	}
	w := &writer{db: db, batch: &pgx.Batch{}}
	if err := fn(w); err != nil {
		return wrap(op, err)
	}
	if w.batch.Len() == 0 {
		return nil
	}
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return wrap(op, err)
	}
	defer conn.Close()
	return wrap(op, conn.Raw(func(dc any) error {
		// Close reads every result and returns the first error; the
		// server has then rolled the whole batch back.
		return dc.(*stdlib.Conn).Conn().SendBatch(ctx, w.batch).Close()
	}))
}
