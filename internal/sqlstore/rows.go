package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"sync"
)

// Multi-row statements come in a few fixed sizes only, so that each has a
// handful of texts: prepared once on SQLite (where parsing a 500-row
// INSERT costs as much as running it) and cached by pgx on PostgreSQL. A
// batch of n rows runs as full chunks of the largest size, then of the
// smaller ones.

// On PostgreSQL every statement is a round trip to a backend that competes
// with argon2id for the CPUs, so the sizes are powers of two and any n
// takes at most one statement per size: the nine bucket deltas of a
// sign-in's risk signal are 8 + 1 rows, two statements (with 50, 5, 1 they
// were 5 + 1 + 1 + 1 + 1, five). On SQLite a one-row prepared statement is
// cheap and fewer texts keep the prepared set small.
func (db *DB) chunkSizes() []int {
	if db.d.name == dialectSQLite {
		return []int{100, 10, 1}
	}
	return pgChunkSizes
}

var pgChunkSizes = []int{512, 256, 128, 64, 32, 16, 8, 4, 2, 1}

var valuesLists sync.Map // [2]int{rows, cols} → string

// valuesList returns "(?, ?, …), (…)" for rows rows of cols columns.
func valuesList(rows, cols int) string {
	key := [2]int{rows, cols}
	if s, ok := valuesLists.Load(key); ok {
		return s.(string)
	}
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	var b strings.Builder
	b.Grow(rows * (len(one) + 2))
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
	}
	valuesLists.Store(key, b.String())
	return b.String()
}

// execRows runs head + VALUES list + tail over n rows of cols columns in
// tx, in chunks of the fixed sizes; row appends row i's values to dst.
func (db *DB) execRows(ctx context.Context, tx *sql.Tx, head, tail string, cols, n int, row func(i int, dst []any) ([]any, error)) error {
	return (&writer{db: db, tx: tx}).rows(ctx, head, tail, cols, n, row)
}

// rows is execRows for a writer.
func (w *writer) rows(ctx context.Context, head, tail string, cols, n int, row func(i int, dst []any) ([]any, error)) error {
	plan := chunkPlan(w.db.chunkSizes(), n)
	if len(plan) == 0 {
		return nil
	}
	args := make([]any, 0, plan[0]*cols)
	i := 0
	for _, size := range plan {
		args = args[:0]
		var err error
		for j := i; j < i+size; j++ {
			if args, err = row(j, args); err != nil {
				return err
			}
		}
		if err := w.exec(ctx, head+valuesList(size, cols)+tail, args...); err != nil {
			return err
		}
		i += size
	}
	return nil
}

// chunkPlan splits n rows into statements of the given sizes (largest
// first, the last size 1): full chunks of the largest size, then of the
// smaller ones.
func chunkPlan(sizes []int, n int) []int {
	var plan []int
	for _, size := range sizes {
		for ; n >= size; n -= size {
			plan = append(plan, size)
		}
	}
	return plan
}

// inSizes are the lengths IN lists are padded to (with a value that
// matches nothing), for the same reason.
var inSizes = []int{8, 64, 256}

// inChunks splits vals into IN lists of the fixed sizes, padded with pad.
func inChunks(vals []string, pad string) [][]any {
	var out [][]any
	for len(vals) > 0 {
		size := inSizes[len(inSizes)-1]
		for _, s := range inSizes {
			if len(vals) <= s {
				size = s
				break
			}
		}
		part := vals[:min(size, len(vals))]
		vals = vals[len(part):]
		args := make([]any, size)
		for i := range args {
			if i < len(part) {
				args[i] = part[i]
			} else {
				args[i] = pad
			}
		}
		out = append(out, args)
	}
	return out
}

// KnownAccounts returns which of ids name an account.
func (db *DB) KnownAccounts(ctx context.Context, ids []string) (map[string]bool, error) {
	known := make(map[string]bool, len(ids))
	for _, args := range inChunks(ids, "") {
		s, err := db.stmt(ctx, `SELECT id FROM accounts WHERE id IN (`+placeholders(len(args))+`)`)
		if err != nil {
			return nil, wrap("known accounts", err)
		}
		rows, err := s.QueryContext(ctx, args...)
		if err != nil {
			return nil, wrap("known accounts", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, wrap("known accounts", err)
			}
			known[id] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, wrap("known accounts", err)
		}
	}
	return known, nil
}
