package sqlstore

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/monban-dev/monban"
)

// TestTouchKeepsCache: the once-a-minute last-seen touch of a session does
// not empty the SQLite session cache (every other write does), the cached
// check shows the new time, and a read that raced the touch cannot bring
// the older time back (it would make a session look idle too early). The
// watcher, polling on the write connection, counts other processes'
// commits and not this one's.
func TestTouchKeepsCache(t *testing.T) {
	ctx := context.Background()
	node, admin := openNodeAndAdmin(t)
	poll := func() {
		t.Helper()
		if err := node.watch.poll(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
	}

	t0 := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	s := newTestSession(t, node, "taro", t0, 24*time.Hour)
	a, h := &monban.Account{ID: s.AccountID}, s.TokenHash
	check := func() *monban.SessionState {
		t.Helper()
		st, err := node.SessionCheck(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	// Polls on the write connection count neither themselves nor this
	// process's own commits (the commit hook did).
	poll()
	before := node.commits.Load()
	for range 3 {
		poll()
	}
	if got := node.commits.Load(); got != before {
		t.Fatalf("polls with no other process writing counted %d commits", got-before)
	}
	if st := check(); !st.Session.LastSeenAt.Equal(t0) {
		t.Fatalf("last seen %v, want %v", st.Session.LastSeenAt, t0)
	}

	// Another process writes and the watcher has not polled yet: the
	// cached answer is what proves the touch below leaves the cache alone.
	other := sha256.Sum256([]byte("token-other"))
	if err := admin.CreateSession(ctx, &monban.Session{ID: monban.NewID("ses"), TokenHash: other[:], AccountID: a.ID,
		DeviceID: "dev_other", Kind: monban.SessionApp, AuthLevel: monban.AuthPassword, CreatedAt: t0, LastSeenAt: t0,
		ExpiresAt: t0.Add(time.Hour)}, nil, monban.AuditEvent{At: t0, AccountID: a.ID, Action: monban.AuditSignedIn}); err != nil {
		t.Fatal(err)
	}
	if err := admin.RevokeSession(ctx, a.ID, s.ID, t0.Add(time.Minute),
		monban.AuditEvent{At: t0, AccountID: a.ID, Action: monban.AuditSessionRevoked}); err != nil {
		t.Fatal(err)
	}
	t1 := t0.Add(2 * time.Minute)
	commits := node.commits.Load()
	if err := node.TouchSession(ctx, s.ID, t1); err != nil {
		t.Fatal(err)
	}
	if got := node.commits.Load(); got != commits {
		t.Fatalf("a touch counted %d commits", got-commits)
	}
	st := check()
	if !st.Session.RevokedAt.IsZero() {
		t.Fatal("the touch emptied the cache: the unpolled foreign revoke is already visible")
	}
	if !st.Session.LastSeenAt.Equal(t1) {
		t.Fatalf("cached last seen %v after the touch, want %v", st.Session.LastSeenAt, t1)
	}

	// A check that read the row before the touch stores its older time:
	// the touch still wins.
	stale := *st
	sess := *st.Session
	sess.LastSeenAt = t0
	stale.Session = &sess
	node.sessions.put(h, &stale, node.commits.Load())
	if st := check(); !st.Session.LastSeenAt.Equal(t1) {
		t.Fatalf("a read from before the touch brought back last seen %v, want %v", st.Session.LastSeenAt, t1)
	}

	// The foreign revoke is seen at the next poll, as before.
	poll()
	if st := check(); st.Session.RevokedAt.IsZero() {
		t.Fatal("after the poll the session revoked by another process still reads as live")
	}
	if st := check(); !st.Session.LastSeenAt.Equal(t1) {
		t.Fatalf("last seen in the database %v, want %v", st.Session.LastSeenAt, t1)
	}
}
