package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/sqlstore"
)

var recoveryTests = []struct {
	name string
	fn   func(t *testing.T, db *sqlstore.DB)
}{
	{"ThrottleCounters", testThrottleCounters},
	{"RecoveryLifecycle", testRecoveryLifecycle},
	{"ContactChangeAndUndo", testContactChangeAndUndo},
}

func testThrottleCounters(t *testing.T, db *sqlstore.DB) {
	keys := []string{"pwd:acct:acc_a:any", "pwd:acct:acc_a:dev:dev_1", "pwd:acct:acc_b:any"}
	allow := func([]monban.FailureCount) error { return nil }
	for i := range 3 {
		if err := db.ClaimAttempt(ctx, at(time.Duration(i)*time.Second), keys, allow); err != nil {
			t.Fatal(err)
		}
	}
	st, err := db.ThrottleState(ctx, keys[0])
	if err != nil || st.Failures != 3 || !st.LastFailure.Equal(at(2*time.Second)) {
		t.Fatalf("state %+v, %v; want 3 failures, the last at +2s", st, err)
	}
	// A refusal writes nothing and sees the states in key order.
	refuse := monban.RateLimited("signin.throttled", at(time.Minute))
	var seen []monban.FailureCount
	err = db.ClaimAttempt(ctx, at(time.Hour), keys, func(s []monban.FailureCount) error { seen = s; return refuse })
	if err == nil || len(seen) != 3 || seen[2].Failures != 3 {
		t.Fatalf("refused claim: %v, saw %+v", err, seen)
	}
	if st, _ := db.ThrottleState(ctx, keys[0]); st.Failures != 3 {
		t.Fatalf("a refused claim counted: %+v", st)
	}
	if err := db.ResetThrottle(ctx, keys[1:2]); err != nil {
		t.Fatal(err)
	}
	if st, _ := db.ThrottleState(ctx, keys[1]); st.Failures != 0 {
		t.Fatalf("reset counter: %+v", st)
	}
	// Clear takes one account's counters only (acc_a, not acc_b, nor an
	// account whose id merely starts the same).
	if err := db.ClaimAttempt(ctx, t0, []string{"pwd:acct:acc_ab:any"}, allow); err != nil {
		t.Fatal(err)
	}
	if err := db.ClearThrottle(ctx, "pwd:acct:acc_a:"); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]int{keys[0]: 0, keys[2]: 3, "pwd:acct:acc_ab:any": 1} {
		if st, _ := db.ThrottleState(ctx, key); st.Failures != want {
			t.Errorf("%s after clear: %d failures, want %d", key, st.Failures, want)
		}
	}
	if n, err := db.PruneThrottle(ctx, at(time.Hour), 100); err != nil || n != 2 {
		t.Fatalf("prune: %d, %v; want 2", n, err)
	}
}

func testRecoveryLifecycle(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0, ident(monban.KindEmail, "r@example.jp", t0))
	s := newSession(a.ID, "dev_1", t0)
	mustCreateSession(t, db, s, nil)
	r := &monban.Recovery{ID: monban.NewID("rcv"), AccountID: a.ID, DeviceID: "dev_1", FlowID: "flw_x", Channel: monban.ChannelEmail,
		Shown: "r***@example.jp", CreatedAt: t0, ExpiresAt: at(24 * time.Hour)}
	ev := auditFor(a.ID, monban.AuditRecoveryStarted, t0)
	if err := db.CreateRecovery(ctx, r, &ev); err != nil {
		t.Fatal(err)
	}
	got, err := db.RecoveryByID(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "RecoveryByID", got, r)
	if n, err := db.CountRecoveryCheck(ctx, r.ID); err != nil || n != 1 {
		t.Fatalf("CountRecoveryCheck = %d, %v", n, err)
	}
	if err := db.MarkRecoverySecond(ctx, r.ID, at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.RecoveryByID(ctx, r.ID); !got.SecondAt.IsZero() {
		t.Fatal("a second factor was recorded before the code")
	}
	if err := db.MarkRecoveryCode(ctx, r.ID, at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	reset := func() error {
		return db.ResetPassword(ctx, r.ID, a.ID, "$argon2id$new", at(2*time.Minute),
			auditFor(a.ID, monban.AuditPasswordReset, at(2*time.Minute)), nil, nil)
	}
	if err := reset(); err != nil {
		t.Fatal(err)
	}
	if acc, _ := db.AccountByID(ctx, a.ID); acc.PasswordHash != "$argon2id$new" {
		t.Fatalf("hash %q", acc.PasswordHash)
	}
	if ss, _ := db.SessionsByAccount(ctx, a.ID, at(3*time.Minute)); len(ss) != 0 {
		t.Fatalf("%d sessions survived the reset", len(ss))
	}
	wantCode(t, reset(), monban.EConflict, "recovery.used", "")
	if _, err := db.RecoveryByID(ctx, "rcv_missing"); !monban.IsNotFound(err) {
		t.Fatalf("missing recovery: %v", err)
	}
}

func testContactChangeAndUndo(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0,
		monban.Identifier{Kind: monban.KindEmail, Value: "old@example.jp", Verified: true, CreatedAt: t0},
		monban.Identifier{Kind: monban.KindPhone, Value: "+819011112222", Verified: true, CreatedAt: t0})
	mustCreateSession(t, db, newSession(a.ID, "dev_1", t0), nil)
	complete := func(kind monban.IdentifierKind, old, new string, when time.Time, undo []byte) *monban.ContactChange {
		t.Helper()
		c := &monban.ContactChange{ID: monban.NewID("chg"), AccountID: a.ID, Kind: kind, OldValue: old, OldVerified: true,
			NewValue: new, FlowID: "flw", CreatedAt: when, UndoExpiresAt: when.Add(14 * 24 * time.Hour)}
		if err := db.CreateContactChange(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := db.CompleteContactChange(ctx, c, undo, when, auditFor(a.ID, monban.AuditContactChanged, when), nil, nil); err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.CompleteContactChange(ctx, c, []byte("other"), when, auditFor(a.ID, "x", when), nil, nil),
			monban.EConflict, "change.used", "")
		return c
	}
	first := complete(monban.KindEmail, "old@example.jp", "evil@example.net", at(time.Minute), bytes.Repeat([]byte{1}, 32))
	complete(monban.KindPhone, "+819011112222", "+818099998888", at(2*time.Minute), bytes.Repeat([]byte{2}, 32))
	complete(monban.KindEmail, "evil@example.net", "evil2@example.net", at(3*time.Minute), bytes.Repeat([]byte{3}, 32))
	if accs, _ := db.AccountsByIdentifier(ctx, monban.KindEmail, "evil2@example.net"); len(accs) != 1 {
		t.Fatal("the change did not take")
	}
	got, err := db.ContactChangeByUndo(ctx, bytes.Repeat([]byte{1}, 32))
	if err != nil || got.ID != first.ID {
		t.Fatalf("ContactChangeByUndo = %+v, %v", got, err)
	}
	// Undoing the first change undoes everything since, both kinds.
	if err := db.UndoContactChange(ctx, got, "$argon2id$unusable", at(time.Hour), auditFor(a.ID, monban.AuditContactChangeUndo, at(time.Hour))); err != nil {
		t.Fatal(err)
	}
	ids, _ := db.IdentifiersByAccount(ctx, a.ID)
	vals := map[monban.IdentifierKind]string{}
	for _, id := range ids {
		vals[id.Kind] = id.Value
		if id.Kind != monban.KindUsername && !id.Verified {
			t.Errorf("%s restored unverified", id.Kind)
		}
	}
	if vals[monban.KindEmail] != "old@example.jp" || vals[monban.KindPhone] != "+819011112222" || len(ids) != 3 {
		t.Fatalf("after undo: %+v", ids)
	}
	if acc, _ := db.AccountByID(ctx, a.ID); acc.PasswordHash != "$argon2id$unusable" {
		t.Fatal("password not voided")
	}
	if ss, _ := db.SessionsByAccount(ctx, a.ID, at(time.Hour)); len(ss) != 0 {
		t.Fatal("sessions survived the undo")
	}
	wantCode(t, db.UndoContactChange(ctx, got, "$x", at(2*time.Hour), auditFor(a.ID, "x", at(2*time.Hour))),
		monban.EInvalid, "undo.invalid", "")
	later, _ := db.ContactChangeByUndo(ctx, bytes.Repeat([]byte{3}, 32))
	if later.UndoneAt.IsZero() {
		t.Fatal("a later change was not marked undone")
	}
}
