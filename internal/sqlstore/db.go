package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/monban-dev/monban"
)

// DB is monban's store. On SQLite it holds a single-connection write pool and
// a read-only pool; on PostgreSQL both are the same pool.
type DB struct {
	w, r  *sql.DB
	d     *dialect
	clock monban.Clock

	mu     sync.Mutex
	stmts  sync.Map // query text → *sql.Stmt prepared on the read pool
	wstmts sync.Map // query text → *sql.Stmt prepared on the write pool (SQLite)
	wanted sync.Map // query texts seen in transactions, to prepare after them

	commits  atomic.Uint64     // SQLite: commits on the write connection so far
	quiet    atomic.Bool       // SQLite: set while a commit the session cache applies itself runs
	sessions *sessionCache     // SQLite: session checks since the last commit
	watch    *dataVersionWatch // SQLite: other processes' commits, counted into commits
}

// Open connects to dsn: a postgres:// or postgresql:// URL selects
// PostgreSQL, anything else is a SQLite file path. It does not migrate.
func Open(ctx context.Context, dsn string, clock monban.Clock) (*DB, error) {
	if clock == nil {
		clock = monban.SystemClock{}
	}
	db := &DB{clock: clock}
	var err error
	if isPostgresDSN(dsn) {
		db.d = newDialect(dialectPostgres)
		db.w, err = openPostgres(dsn)
		db.r = db.w
	} else {
		db.d = newDialect(dialectSQLite)
		db.w, db.r, err = openSQLite(dsn, &db.commits, &db.quiet)
		db.sessions = newSessionCache()
		if err == nil {
			if db.watch, err = newDataVersionWatch(db.w, &db.commits); err != nil {
				db.w.Close()
				db.r.Close()
			}
		}
	}
	if err != nil {
		return nil, wrap("open", err)
	}
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the prepared statements and the pools.
func (db *DB) Close() error {
	for _, m := range []*sync.Map{&db.stmts, &db.wstmts} {
		m.Range(func(_, v any) bool {
			v.(*sql.Stmt).Close()
			return true
		})
	}
	var err error
	if db.watch != nil {
		err = db.watch.close() // before the write connection it polls on
	}
	err = errors.Join(err, db.w.Close())
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	return err
}

// Ping checks that the database answers, on both pools.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.w.PingContext(ctx); err != nil {
		return wrap("ping", err)
	}
	if db.r != db.w {
		if err := db.r.PingContext(ctx); err != nil {
			return wrap("ping", err)
		}
	}
	return nil
}

// Dialect returns "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.d.name }

// q rebinds query for the dialect.
func (db *DB) q(query string) string { return db.d.q(query) }

// inTx runs fn in one write transaction, committing if fn returns nil.
// On SQLite the write pool has a single connection, so fn must use only tx:
// a call on db.w inside fn would wait for itself forever.
func (db *DB) inTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap(op, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		db.prepareWanted(ctx)
		return wrap(op, err)
	}
	err = tx.Commit()
	db.prepareWanted(ctx)
	return wrap(op, err)
}

// stmt returns query prepared on the read pool, preparing it on first use
// (not in Open: the tables may not exist until Migrate has run).
func (db *DB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := db.stmts.Load(query); ok {
		return s.(*sql.Stmt), nil
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if s, ok := db.stmts.Load(query); ok {
		return s.(*sql.Stmt), nil
	}
	s, err := db.r.PrepareContext(ctx, db.q(query))
	if err != nil {
		return nil, err
	}
	db.stmts.Store(query, s)
	return s, nil
}

// micros stores a time as unix microseconds; the zero time is 0.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicros is the inverse of micros, in UTC.
func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// Write statements are prepared too, on SQLite, where parsing a statement
// costs as much as running it. They cannot be prepared inside a transaction
// (the write pool's only connection is busy there), so a statement first
// seen in a transaction runs unprepared and is prepared right after it, on
// the write pool; later transactions bind it with Tx.StmtContext. pgx caches
// prepared statements per connection by itself, so PostgreSQL skips this.

func (db *DB) txStmt(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	if db.d.name != dialectSQLite {
		return nil
	}
	if s, ok := db.wstmts.Load(query); ok {
		return tx.StmtContext(ctx, s.(*sql.Stmt))
	}
	db.wanted.Store(query, struct{}{})
	return nil
}

// prepareWanted prepares the write statements seen since the last call. It
// runs outside any transaction.
func (db *DB) prepareWanted(ctx context.Context) {
	db.wanted.Range(func(k, _ any) bool {
		query := k.(string)
		db.wanted.Delete(query)
		if _, ok := db.wstmts.Load(query); ok {
			return true
		}
		if s, err := db.w.PrepareContext(ctx, db.q(query)); err == nil {
			if _, loaded := db.wstmts.LoadOrStore(query, s); loaded {
				s.Close()
			}
		}
		return true
	})
}

// txExec runs a write statement in tx, prepared when it can be.
func (db *DB) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if s := db.txStmt(ctx, tx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, db.q(query), args...)
}

// txQuery runs a query in tx, prepared when it can be.
func (db *DB) txQuery(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	if s := db.txStmt(ctx, tx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, db.q(query), args...)
}

// txQueryRow runs a one-row query in tx, prepared when it can be.
func (db *DB) txQueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if s := db.txStmt(ctx, tx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, db.q(query), args...)
}
