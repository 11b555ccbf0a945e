package sqlstore_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/clocktest"
	"github.com/monban-dev/monban/internal/sqlstore"
	"github.com/monban-dev/monban/internal/storetest"
)

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *sqlstore.DB { return storetest.Open(t) })
}

func TestPostgres(t *testing.T) {
	storetest.PostgresSchema(t) // skips when MONBAN_TEST_POSTGRES is unset
	storetest.Run(t, func(t *testing.T) *sqlstore.DB { return storetest.OpenPostgres(t) })
}

// TestConcurrentMigrate starts several processes' worth of stores on one
// empty database at once; each must migrate without error.
func TestConcurrentMigrate(t *testing.T) {
	dsns := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "m.db") },
		"postgres": func(t *testing.T) string { return storetest.PostgresSchema(t) },
	}
	for name, dsn := range dsns {
		t.Run(name, func(t *testing.T) {
			dsn := dsn(t)
			ctx := context.Background()
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					db, err := sqlstore.Open(ctx, dsn, clocktest.New(storetest.Epoch))
					if err != nil {
						errs[i] = err
						return
					}
					defer db.Close()
					errs[i] = db.Migrate(ctx)
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestSQLiteBusy hammers one file from two stores (as the server and the CLI
// would, from two processes) with 32 clients each: no caller may see
// SQLITE_BUSY ("database is locked").
func TestSQLiteBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	stores := []*sqlstore.DB{storetest.OpenSQLite(t, path), storetest.OpenSQLite(t, path)}
	ctx := context.Background()
	t0 := storetest.Epoch
	const clients, rounds = 32, 10
	errs := make(chan error, 2*clients)
	var wg sync.WaitGroup
	for _, db := range stores {
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- signInRounds(ctx, db, t0, rounds)
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func signInRounds(ctx context.Context, db *sqlstore.DB, t0 time.Time, rounds int) error {
	a := &monban.Account{ID: monban.NewID("acc"), Status: monban.AccountActive, CreatedAt: t0, UpdatedAt: t0}
	id := monban.Identifier{Kind: monban.KindUsername, Value: a.ID, CreatedAt: t0}
	if err := db.CreateAccount(ctx, a, []monban.Identifier{id}, monban.AuditEvent{At: t0, AccountID: a.ID, Action: monban.AuditRegistered}); err != nil {
		return err
	}
	for i := range rounds {
		h := sha256.Sum256([]byte(fmt.Sprint(a.ID, i)))
		s := &monban.Session{ID: monban.NewID("ses"), TokenHash: h[:], AccountID: a.ID, DeviceID: "d", Kind: monban.SessionWeb,
			AuthLevel: monban.AuthPassword, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
		d := &monban.Device{ID: "d", AccountID: a.ID, Kind: monban.SessionWeb, CreatedAt: t0, LastSeenAt: t0}
		if err := db.CreateSession(ctx, s, d, monban.AuditEvent{At: t0, AccountID: a.ID, Action: monban.AuditSignedIn}); err != nil {
			return err
		}
		if _, err := db.SessionByTokenHash(ctx, h[:]); err != nil {
			return err
		}
		if err := db.TouchSession(ctx, s.ID, t0.Add(time.Second)); err != nil {
			return err
		}
		if _, err := db.SessionsByAccount(ctx, a.ID, t0); err != nil {
			return err
		}
	}
	return nil
}

func TestUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Nothing listens on port 1.
	_, err := sqlstore.Open(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", nil)
	if got := monban.ErrorCodeOf(err); got != monban.EUnavailable {
		t.Fatalf("Open on a closed port: %v (code %q), want %s", err, got, monban.EUnavailable)
	}

	db := storetest.Open(t)
	db.Close()
	_, err = db.AccountByID(ctx, "acc_x")
	if got := monban.ErrorCodeOf(err); got != monban.EUnavailable {
		t.Fatalf("query on a closed store: %v (code %q), want %s", err, got, monban.EUnavailable)
	}
}

func BenchmarkSessionByTokenHash(b *testing.B) {
	db := storetest.OpenSQLite(b, filepath.Join(b.TempDir(), "bench.db"))
	ctx := context.Background()
	t0 := storetest.Epoch
	const accounts = 1000
	hashes := make([][]byte, accounts)
	for i := range accounts {
		a := &monban.Account{ID: monban.NewID("acc"), Status: monban.AccountActive, CreatedAt: t0, UpdatedAt: t0}
		id := monban.Identifier{Kind: monban.KindUsername, Value: a.ID, CreatedAt: t0}
		if err := db.CreateAccount(ctx, a, []monban.Identifier{id}, monban.AuditEvent{At: t0, AccountID: a.ID, Action: monban.AuditRegistered}); err != nil {
			b.Fatal(err)
		}
		h := sha256.Sum256([]byte(a.ID))
		hashes[i] = h[:]
		s := &monban.Session{ID: monban.NewID("ses"), TokenHash: h[:], AccountID: a.ID, Kind: monban.SessionWeb,
			AuthLevel: monban.AuthPassword, Methods: []string{"pwd"}, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := db.CreateSession(ctx, s, nil, monban.AuditEvent{At: t0, AccountID: a.ID, Action: monban.AuditSignedIn}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := db.SessionByTokenHash(ctx, hashes[i%accounts]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
