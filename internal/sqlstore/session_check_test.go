package sqlstore_test

import (
	"context"
	"crypto/sha256"
	"reflect"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/sqlstore"
	"github.com/monban-dev/monban/internal/storetest"
)

// TestSessionCheck: the one-read session check answers exactly what the
// three separate reads it replaces answer, on both databases.
func TestSessionCheck(t *testing.T) {
	opens := map[string]func(t *testing.T) *sqlstore.DB{
		"sqlite": func(t *testing.T) *sqlstore.DB { return storetest.Open(t) },
		"postgres": func(t *testing.T) *sqlstore.DB {
			storetest.PostgresSchema(t) // skips when MONBAN_TEST_POSTGRES is unset
			return storetest.OpenPostgres(t)
		},
	}
	for name, open := range opens {
		t.Run(name, func(t *testing.T) { testSessionCheck(t, open(t)) })
	}
}

func testSessionCheck(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	t0 := storetest.Epoch
	a := &monban.Account{ID: monban.NewID("acc"), Status: monban.AccountActive, PasswordHash: "x", CreatedAt: t0, UpdatedAt: t0}
	ids := []monban.Identifier{
		{Kind: monban.KindUsername, Value: "u_" + a.ID, CreatedAt: t0},
		{Kind: monban.KindEmail, Value: a.ID + "@example.com", CreatedAt: t0},
		{Kind: monban.KindPhone, Value: "+819012345678", CreatedAt: t0.Add(time.Minute)},
	}
	if err := db.CreateAccount(ctx, a, ids, monban.AuditEvent{At: t0, AccountID: a.ID, Action: monban.AuditRegistered}); err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte("token-" + a.ID))
	s := &monban.Session{ID: monban.NewID("ses"), TokenHash: h[:], AccountID: a.ID, DeviceID: "dev_1",
		Kind: monban.SessionApp, AuthLevel: monban.AuthPassword, Methods: []string{"pwd", "otp"},
		IP: "192.0.2.1", UserAgent: "test", CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := db.CreateSession(ctx, s, nil, monban.AuditEvent{At: t0, AccountID: a.ID, Action: monban.AuditSignedIn}); err != nil {
		t.Fatal(err)
	}

	st, err := db.SessionCheck(ctx, h[:])
	if err != nil {
		t.Fatal(err)
	}
	gotS, status, gotIDs := st.Session, st.Status, st.Identifiers
	if st.MaybeLocked {
		t.Error("an account without a lock reads as maybe locked")
	}
	wantS, _ := db.SessionByTokenHash(ctx, h[:])
	wantIDs, _ := db.IdentifiersByAccount(ctx, a.ID)
	if !reflect.DeepEqual(gotS, wantS) {
		t.Errorf("session\n got %+v\nwant %+v", gotS, wantS)
	}
	if status != monban.AccountActive {
		t.Errorf("status %q", status)
	}
	if !reflect.DeepEqual(gotIDs, wantIDs) || len(gotIDs) != 3 {
		t.Errorf("identifiers\n got %+v\nwant %+v", gotIDs, wantIDs)
	}

	// A change is seen by the very next check: on SQLite the check is
	// cached, and any commit makes the cache out of date.
	for i := 0; i < 3; i++ {
		if _, err := db.SessionCheck(ctx, h[:]); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.RevokeSession(ctx, a.ID, s.ID, t0.Add(time.Minute), monban.AuditEvent{At: t0, AccountID: a.ID, Action: monban.AuditSessionRevoked}); err != nil {
		t.Fatal(err)
	}
	if st, err := db.SessionCheck(ctx, h[:]); err != nil || st.Session.RevokedAt.IsZero() {
		t.Fatalf("after revoking: %+v, %v; the check still sees the session live", st, err)
	}
	// What a caller does to the answer does not reach the next one.
	st1, _ := db.SessionCheck(ctx, h[:])
	st1.Session.AccountID, st1.Identifiers[0].Value = "changed", "changed"
	if st2, _ := db.SessionCheck(ctx, h[:]); st2.Session.AccountID != a.ID || st2.Identifiers[0].Value == "changed" {
		t.Fatalf("a caller's change leaked into the cache: %+v", st2)
	}

	// A lock in force makes the check say "maybe locked", so the caller
	// reads the lock; without one it costs nothing more.
	l := &monban.Lock{ID: monban.NewID("lck"), AccountID: a.ID, Kind: monban.LockTemp, Category: "unusual_activity",
		RuleID: "r", RuleVersion: "1", Evidence: "{}", CreatedAt: t0}
	if err := db.CreateLock(ctx, l, nil, nil, monban.AuditEvent{At: t0, AccountID: a.ID, Action: "account.locked"}, nil); err != nil {
		t.Fatal(err)
	}
	if st, err := db.SessionCheck(ctx, h[:]); err != nil || !st.MaybeLocked || len(st.Identifiers) != 3 {
		t.Errorf("locked account: %+v, %v; want MaybeLocked and the same identifiers", st, err)
	}

	missing := sha256.Sum256([]byte("missing"))
	if _, err := db.SessionCheck(ctx, missing[:]); !monban.IsNotFound(err) {
		t.Errorf("missing token: %v, want ENotFound", err)
	}
}
