package sqlstore

import (
	"context"
	"crypto/sha256"
	"path/filepath"
	"testing"
	"time"

	"github.com/monban-dev/monban"
)

// TestForeignWriteSeen: a session revoked by another process on the same
// SQLite file (the admin command) is refused by this process's cached
// session check after one poll of the watcher, and at once when the
// watcher has fallen behind.
func TestForeignWriteSeen(t *testing.T) {
	ctx := context.Background()
	node, admin := openNodeAndAdmin(t)

	t0 := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	newSession := func(name string) (*monban.Session, []byte) {
		s := newTestSession(t, node, name, t0, time.Hour)
		return s, s.TokenHash
	}
	revokedByAdmin := func(s *monban.Session) {
		if err := admin.RevokeSession(ctx, s.AccountID, s.ID, t0.Add(time.Minute),
			monban.AuditEvent{At: t0, AccountID: s.AccountID, Action: monban.AuditSessionRevoked}); err != nil {
			t.Fatal(err)
		}
	}
	live := func(hash []byte) bool {
		st, err := node.SessionCheck(ctx, hash)
		if err != nil {
			t.Fatal(err)
		}
		return st.Session.RevokedAt.IsZero()
	}

	// After one poll.
	s1, h1 := newSession("alice")
	if err := node.watch.poll(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if !live(h1) {
		t.Fatal("a new session reads as revoked")
	}
	if !live(h1) {
		t.Fatal("a new session reads as revoked when served from the cache")
	}
	revokedByAdmin(s1)
	if err := node.watch.poll(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if live(h1) {
		t.Fatal("after the watcher's poll the session revoked by another process still reads as live")
	}

	// A watcher that has fallen behind: nothing cached is used.
	s2, h2 := newSession("bob")
	if err := node.watch.poll(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if !live(h2) {
		t.Fatal("a new session reads as revoked")
	}
	if !live(h2) {
		t.Fatal("a new session reads as revoked when served from the cache")
	}
	node.watch.polled.Store(time.Now().Add(-2 * watchStale).UnixNano())
	revokedByAdmin(s2)
	if live(h2) {
		t.Fatal("with the watcher behind, the check answered from the cache")
	}
}

// openNodeAndAdmin opens one migrated SQLite file twice, as a node and as
// another process on the same file (the admin command) would; the node's
// watcher is halted, so the test polls by hand.
func openNodeAndAdmin(t *testing.T) (node, admin *DB) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "monban.db")
	node, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	if err := node.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if admin, err = Open(ctx, path, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	node.watch.halt()
	return node, admin
}

// newTestSession registers an account named name on db and starts an app
// session for it at t0, lasting life; the token hash is
// sha256("token-"+name).
func newTestSession(t *testing.T, db *DB, name string, t0 time.Time, life time.Duration) *monban.Session {
	t.Helper()
	ctx := context.Background()
	a := &monban.Account{ID: monban.NewID("acc"), Status: monban.AccountActive, PasswordHash: "x", CreatedAt: t0, UpdatedAt: t0}
	if err := db.CreateAccount(ctx, a, []monban.Identifier{{Kind: monban.KindUsername, Value: name, CreatedAt: t0}},
		monban.AuditEvent{At: t0, AccountID: a.ID, Action: monban.AuditRegistered}); err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte("token-" + name))
	s := &monban.Session{ID: monban.NewID("ses"), TokenHash: h[:], AccountID: a.ID, DeviceID: "dev_" + name,
		Kind: monban.SessionApp, AuthLevel: monban.AuthPassword, Methods: []string{"pwd"},
		CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(life)}
	if err := db.CreateSession(ctx, s, nil, monban.AuditEvent{At: t0, AccountID: a.ID, Action: monban.AuditSignedIn}); err != nil {
		t.Fatal(err)
	}
	return s
}
