package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx", to create and drop test schemas

	"github.com/monban-dev/monban/internal/clocktest"
	"github.com/monban-dev/monban/internal/sqlstore"
)

// PostgresEnv names the environment variable holding a PostgreSQL DSN for
// tests, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const PostgresEnv = "MONBAN_TEST_POSTGRES"

// Epoch is the fixed time of the clock given to stores opened here.
var Epoch = time.Date(2026, 4, 1, 9, 30, 0, 0, time.UTC)

// Open returns a migrated SQLite store in a temporary directory, closed when
// the test ends. (Benchmarks: OpenSQLite.)
func Open(t *testing.T) *sqlstore.DB {
	t.Helper()
	return OpenSQLite(t, filepath.Join(t.TempDir(), "monban.db"))
}

// OpenSQLite returns a migrated store on the SQLite file at path, closed when
// the test or benchmark ends.
func OpenSQLite(t testing.TB, path string) *sqlstore.DB {
	t.Helper()
	return openMigrated(t, path)
}

// OpenPostgres returns a migrated store in a fresh PostgreSQL schema that is
// dropped when the test ends. It skips the test when MONBAN_TEST_POSTGRES is
// unset.
func OpenPostgres(t *testing.T) *sqlstore.DB {
	t.Helper()
	return openMigrated(t, PostgresSchema(t))
}

// PostgresSchema creates an empty schema, drops it when the test ends, and
// returns a DSN whose search_path is that schema. It skips the test when
// MONBAN_TEST_POSTGRES is unset.
func PostgresSchema(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(PostgresEnv)
	if dsn == "" {
		t.Skip(PostgresEnv + " not set")
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "s_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Stores returns a migrated store per available database: "sqlite" always,
// "postgres" when MONBAN_TEST_POSTGRES is set.
func Stores(t *testing.T) map[string]*sqlstore.DB {
	t.Helper()
	m := map[string]*sqlstore.DB{"sqlite": Open(t)}
	if os.Getenv(PostgresEnv) != "" {
		m["postgres"] = OpenPostgres(t)
	}
	return m
}

func openMigrated(t testing.TB, dsn string) *sqlstore.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, dsn, clocktest.New(Epoch))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	// Registered after the schema's cleanup, so it runs first: close the
	// pool before the schema is dropped.
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}
