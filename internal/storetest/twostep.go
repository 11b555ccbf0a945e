package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/sqlstore"
)

// twoStepTests cover second factors and held sign-ins: each TOTP step and
// recovery code is accepted once, and a held sign-in is decided once,
// completed once, and never after it expired.
var twoStepTests = []struct {
	name string
	fn   func(t *testing.T, db *sqlstore.DB)
}{
	{"FactorsTOTPStepOnce", testFactorsTOTPStepOnce},
	{"FactorsRecoveryCodeOnce", testFactorsRecoveryCodeOnce},
	{"PendingApproval", testPendingApproval},
	{"PendingCompleteOnce", testPendingCompleteOnce},
}

func newPending(accountID string, created time.Time) *monban.PendingSignIn {
	return &monban.PendingSignIn{ID: monban.NewID("psi"), SecretHash: []byte("secret-hash"), AccountID: accountID,
		DeviceID: monban.NewID("dev"), Kind: monban.SessionWeb, IP: "192.0.2.9", UserAgent: "test", Reason: monban.HoldNewDevice,
		State: monban.PendingWaiting, CreatedAt: created, ExpiresAt: created.Add(10 * time.Minute)}
}

func testFactorsTOTPStepOnce(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, at(0))
	f := &monban.Factor{ID: monban.NewID("fac"), AccountID: a.ID, Kind: monban.FactorTOTP, Name: "app", CreatedAt: at(0)}
	if err := db.CreateFactor(ctx, f, []byte("sealed seed"), "", monban.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	if err := db.UseTOTPStep(ctx, a.ID, f.ID, 100, at(time.Minute), true, auditFor(a.ID, monban.AuditFactorAdded, at(time.Minute))); err != nil {
		t.Fatalf("first code: %v", err)
	}
	for _, step := range []int64{100, 99} {
		wantCode(t, db.UseTOTPStep(ctx, a.ID, f.ID, step, at(time.Minute), false, monban.AuditEvent{}), monban.EConflict, "totp.replayed", "code")
	}
	if err := db.UseTOTPStep(ctx, a.ID, f.ID, 101, at(2*time.Minute), false, monban.AuditEvent{}); err != nil {
		t.Fatalf("next step: %v", err)
	}
	got, secret, step, err := db.FactorSecret(ctx, a.ID, f.ID)
	if err != nil || string(secret) != "sealed seed" || step != 101 || !got.Active() {
		t.Fatalf("FactorSecret = %+v %q %d %v", got, secret, step, err)
	}
	fs, err := db.FactorsByAccount(ctx, a.ID)
	if err != nil || len(fs) != 1 || fs[0].ID != f.ID {
		t.Fatalf("FactorsByAccount = %+v, %v", fs, err)
	}
}

func testFactorsRecoveryCodeOnce(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, at(0))
	other := mustCreateAccount(t, db, at(0))
	f := &monban.Factor{ID: monban.NewID("fac"), AccountID: a.ID, Kind: monban.FactorRecoveryCodes, Name: "codes", CreatedAt: at(0), ConfirmedAt: at(0)}
	hashes := [][]byte{[]byte("h1"), []byte("h2"), []byte("h3")}
	if err := db.ReplaceRecoveryCodes(ctx, f, hashes, auditFor(a.ID, monban.AuditRecoveryCodesNew, at(0))); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.UseRecoveryCode(ctx, other.ID, []byte("h1"), at(time.Minute), auditFor(other.ID, monban.AuditRecoveryCodeUsed, at(time.Minute))),
		monban.EUnauthorized, "recovery_code.wrong", "code")
	// Two nodes racing with the same code: exactly one wins.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.UseRecoveryCode(ctx, a.ID, []byte("h2"), at(time.Minute), auditFor(a.ID, monban.AuditRecoveryCodeUsed, at(time.Minute)))
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else if e, ok := monban.AsError(err); !ok || e.Key != "recovery_code.wrong" {
			t.Errorf("losing use: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent uses of one code succeeded, want 1", won)
	}
	fs, err := db.FactorsByAccount(ctx, a.ID)
	if err != nil || len(fs) != 1 || fs[0].Remaining != 2 {
		t.Fatalf("after one use: %+v, %v (want 2 remaining)", fs, err)
	}
	// New codes void the old ones.
	f2 := &monban.Factor{ID: monban.NewID("fac"), AccountID: a.ID, Kind: monban.FactorRecoveryCodes, Name: "codes", CreatedAt: at(time.Hour), ConfirmedAt: at(time.Hour)}
	if err := db.ReplaceRecoveryCodes(ctx, f2, [][]byte{[]byte("h9")}, auditFor(a.ID, monban.AuditRecoveryCodesNew, at(time.Hour))); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.UseRecoveryCode(ctx, a.ID, []byte("h1"), at(2*time.Hour), auditFor(a.ID, monban.AuditRecoveryCodeUsed, at(2*time.Hour))),
		monban.EUnauthorized, "recovery_code.wrong", "code")
}

func testPendingApproval(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, at(0))
	p := newPending(a.ID, at(0))
	if err := db.CreatePending(ctx, p, auditFor(a.ID, monban.AuditSignInPending, at(0))); err != nil {
		t.Fatal(err)
	}
	got, err := db.PendingByID(ctx, p.ID)
	if err != nil || got.AccountID != a.ID || got.State != monban.PendingWaiting || !got.ExpiresAt.Equal(p.ExpiresAt) {
		t.Fatalf("PendingByID = %+v, %v", got, err)
	}
	// Nothing to decide before a prompt opens.
	wantCode(t, db.DecidePending(ctx, p.ID, monban.PendingApproved, "ses_1", at(time.Second), auditFor(a.ID, monban.AuditSignInApproved, at(time.Second))),
		monban.EConflict, "approval.expired", "")
	limits := []monban.Limit{{Key: "approval:acct:h:" + a.ID, Window: time.Hour, Max: 1, Err: "approval.too_many"}}
	n := newNotice(a.ID, monban.TopicSignInApproval, at(time.Minute))
	msg := noticeMessage(monban.ChannelEmail, "taro@example.com", at(time.Minute))
	if err := db.AskApproval(ctx, p.ID, []byte("link-hash"), at(time.Minute), at(6*time.Minute), limits,
		auditFor(a.ID, monban.AuditSignInAskedApproval, at(time.Minute)), n, []*monban.Message{msg}); err != nil {
		t.Fatalf("AskApproval: %v", err)
	}
	if ms, err := db.MessagesByNotice(ctx, n.ID); err != nil || len(ms) != 1 {
		t.Errorf("the link's message: %d, %v; want it stored with the prompt", len(ms), err)
	}
	if err := db.AskApproval(ctx, p.ID, []byte("link-2"), at(2*time.Minute), at(7*time.Minute), limits,
		auditFor(a.ID, monban.AuditSignInAskedApproval, at(2*time.Minute)), nil, nil); monban.ErrorCodeOf(err) != monban.ERateLimited {
		t.Errorf("second prompt in the hour: %v, want rate limited", err)
	}
	open, err := db.OpenApprovals(ctx, a.ID, at(2*time.Minute))
	if err != nil || len(open) != 1 || string(open[0].LinkHash) != "link-hash" {
		t.Fatalf("OpenApprovals = %+v, %v", open, err)
	}
	if err := db.DecidePending(ctx, p.ID, monban.PendingDenied, "ses_1", at(3*time.Minute), auditFor(a.ID, monban.AuditSignInDenied, at(3*time.Minute))); err != nil {
		t.Fatalf("deny: %v", err)
	}
	wantCode(t, db.DecidePending(ctx, p.ID, monban.PendingApproved, "link", at(3*time.Minute), auditFor(a.ID, monban.AuditSignInApproved, at(3*time.Minute))),
		monban.EConflict, "approval.decided", "")
	wantCode(t, db.CompletePending(ctx, p.ID, at(4*time.Minute)), monban.EConflict, "signin.pending_over", "")
	if open, _ := db.OpenApprovals(ctx, a.ID, at(3*time.Minute)); len(open) != 0 {
		t.Errorf("a denied sign-in is still open: %+v", open)
	}

	// A prompt past its deadline cannot be approved.
	q := newPending(a.ID, at(time.Hour))
	if err := db.CreatePending(ctx, q, auditFor(a.ID, monban.AuditSignInPending, at(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if err := db.AskApproval(ctx, q.ID, []byte("link-q"), at(time.Hour), at(time.Hour+5*time.Minute), nil,
		auditFor(a.ID, monban.AuditSignInAskedApproval, at(time.Hour)), nil, nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.DecidePending(ctx, q.ID, monban.PendingApproved, "ses_1", at(time.Hour+5*time.Minute), auditFor(a.ID, monban.AuditSignInApproved, at(time.Hour))),
		monban.EConflict, "approval.expired", "")
	wantCode(t, db.DecidePending(ctx, "psi_unknown", monban.PendingApproved, "ses_1", at(time.Hour), auditFor(a.ID, monban.AuditSignInApproved, at(time.Hour))),
		monban.ENotFound, "approval.not_found", "")
}

func testPendingCompleteOnce(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, at(0))
	p := newPending(a.ID, at(0))
	if err := db.CreatePending(ctx, p, auditFor(a.ID, monban.AuditSignInPending, at(0))); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = db.CompletePending(ctx, p.ID, at(time.Minute)) }()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		}
	}
	if won != 1 {
		t.Fatalf("%d completions of one held sign-in, want 1 (%v)", won, errs)
	}
	got, _ := db.PendingByID(ctx, p.ID)
	if got.State != monban.PendingCompleted || !got.CompletedAt.Equal(at(time.Minute)) {
		t.Errorf("after completion: %+v", got)
	}
	// An expired one cannot be completed.
	q := newPending(a.ID, at(0))
	if err := db.CreatePending(ctx, q, auditFor(a.ID, monban.AuditSignInPending, at(0))); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.CompletePending(ctx, q.ID, at(10*time.Minute)), monban.EConflict, "signin.pending_over", "")
	if got, _ := db.PendingByID(ctx, q.ID); got.StateAt(at(10*time.Minute)) != monban.PendingExpired {
		t.Errorf("state at expiry = %s, want expired", got.StateAt(at(10*time.Minute)))
	}
}
