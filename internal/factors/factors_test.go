package factors_test

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/clocktest"
	"github.com/monban-dev/monban/internal/factors"
	"github.com/monban-dev/monban/internal/seal"
	"github.com/monban-dev/monban/internal/sqlstore"
	"github.com/monban-dev/monban/internal/storetest"
	"github.com/monban-dev/monban/internal/throttle"
)

var ctx = context.Background()

type fixture struct {
	db    *sqlstore.DB
	clock *clocktest.Clock
	svc   *factors.Service
	actor factors.Actor
}

func newFixture(t *testing.T, db *sqlstore.DB) *fixture {
	t.Helper()
	clock := clocktest.New(time.Date(2026, 4, 1, 9, 30, 10, 0, time.UTC))
	key := []byte(strings.Repeat("k", 32))
	box, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	guard := throttle.New(db, clock, throttle.Config{PerIPHour: -1, GlobalPerMinute: -1}, nil)
	svc, err := factors.New(db, box, clock, rand.Reader, key, factors.Config{RPID: "localhost", RPOrigins: []string{"http://localhost"}}, guard)
	if err != nil {
		t.Fatal(err)
	}
	a := &monban.Account{ID: monban.NewID("acc"), Status: monban.AccountActive, Lang: "ja", CreatedAt: clock.Now(), UpdatedAt: clock.Now()}
	ids := []monban.Identifier{{Kind: monban.KindUsername, Value: "u" + a.ID, CreatedAt: clock.Now()}}
	if err := db.CreateAccount(ctx, a, ids, monban.AuditEvent{At: clock.Now(), AccountID: a.ID, Action: monban.AuditRegistered}); err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, clock: clock, svc: svc, actor: factors.Actor{AccountID: a.ID, SessionID: "ses_x", AuthAt: clock.Now()}}
}

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wantKey(t *testing.T, err error, key string) {
	t.Helper()
	if key == "" {
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
		return
	}
	e, ok := monban.AsError(err)
	if !ok || e.Key != key {
		t.Fatalf("err = %v, want %s", err, key)
	}
}

func TestTOTP(t *testing.T) {
	for name, db := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, db)
			en, err := f.svc.EnrolTOTP(ctx, f.actor, "hanako")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(en.QR, "data:image/png;base64,") || !strings.HasPrefix(en.URL, "otpauth://totp/") {
				t.Fatalf("enrolment = %+v", en)
			}
			// Unconfirmed: not listed, not strong, codes refused.
			if ok, _ := f.svc.HasStrongFactor(ctx, f.actor.AccountID); ok {
				t.Fatal("unconfirmed TOTP counts as strong")
			}
			wantKey(t, f.svc.VerifyTOTP(ctx, f.actor.AccountID, code(t, en.Secret, f.clock.Now()), factors.From{}), "totp.wrong")
			wantKey(t, f.svc.ConfirmTOTP(ctx, f.actor, en.FactorID, "000000x", ""), "totp.wrong")
			first := code(t, en.Secret, f.clock.Now())
			wantKey(t, f.svc.ConfirmTOTP(ctx, f.actor, en.FactorID, first, "iPhone"), "")
			if ok, _ := f.svc.HasStrongFactor(ctx, f.actor.AccountID); !ok {
				t.Fatal("confirmed TOTP is not strong")
			}
			// The confirming code cannot be used again to sign in.
			wantKey(t, f.svc.VerifyTOTP(ctx, f.actor.AccountID, first, factors.From{}), "totp.replayed")

			steps := []struct {
				name    string
				advance time.Duration
				at      time.Duration // the code's time relative to now
				want    string
			}{
				{"next step", 30 * time.Second, 0, ""},
				{"same code twice", 0, 0, "totp.replayed"},
				{"one step ahead (skew)", 30 * time.Second, 30 * time.Second, ""},
				{"the current step after a later one was used", 0, 0, "totp.replayed"},
				{"two steps ahead", 30 * time.Second, 90 * time.Second, "totp.wrong"},
				{"two steps old", 2 * time.Minute, -60 * time.Second, "totp.wrong"},
				{"one step old (skew)", 0, -30 * time.Second, ""},
				{"full-width digits", 60 * time.Second, 0, ""},
			}
			for _, st := range steps {
				f.clock.Advance(st.advance)
				c := code(t, en.Secret, f.clock.Now().Add(st.at))
				if st.name == "full-width digits" {
					c = strings.Map(func(r rune) rune { return r - '0' + '０' }, c)
				}
				err := f.svc.VerifyTOTP(ctx, f.actor.AccountID, c, factors.From{})
				if st.want == "" && err != nil || st.want != "" {
					wantKey(t, err, st.want)
				}
			}
		})
	}
}

func TestRecoveryCodes(t *testing.T) {
	for name, db := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, db)
			codes, err := f.svc.GenerateRecoveryCodes(ctx, f.actor)
			if err != nil {
				t.Fatal(err)
			}
			if len(codes) != 10 || len(codes[0]) != 19 {
				t.Fatalf("codes = %v", codes)
			}
			seen := map[string]bool{}
			for _, c := range codes {
				if seen[c] {
					t.Fatalf("duplicate code %s", c)
				}
				seen[c] = true
			}
			typed := strings.ToLower(strings.ReplaceAll(codes[0], "-", " "))
			wantKey(t, f.svc.UseRecoveryCode(ctx, f.actor.AccountID, typed, factors.From{}), "")
			wantKey(t, f.svc.UseRecoveryCode(ctx, f.actor.AccountID, codes[0], factors.From{}), "recovery_code.wrong")
			wantKey(t, f.svc.UseRecoveryCode(ctx, f.actor.AccountID, "not a code", factors.From{}), "recovery_code.wrong")
			wantKey(t, f.svc.UseRecoveryCode(ctx, "acc_other", codes[1], factors.From{}), "recovery_code.wrong")
			list, err := f.svc.List(ctx, f.actor.AccountID)
			if err != nil || len(list) != 1 || list[0].Remaining != 9 {
				t.Fatalf("List = %+v, %v", list, err)
			}
			// Regenerating voids every old code.
			if _, err := f.svc.GenerateRecoveryCodes(ctx, f.actor); err != nil {
				t.Fatal(err)
			}
			wantKey(t, f.svc.UseRecoveryCode(ctx, f.actor.AccountID, codes[1], factors.From{}), "recovery_code.wrong")
			// Changes need a recent password.
			f.clock.Advance(11 * time.Minute)
			_, err = f.svc.GenerateRecoveryCodes(ctx, f.actor)
			wantKey(t, err, "reauth.required")
		})
	}
}

func TestRemoveLastStrongFactorTurnsTwoStepOff(t *testing.T) {
	f := newFixture(t, storetest.Open(t))
	en, err := f.svc.EnrolTOTP(ctx, f.actor, "hanako")
	if err != nil {
		t.Fatal(err)
	}
	wantKey(t, f.svc.ConfirmTOTP(ctx, f.actor, en.FactorID, code(t, en.Secret, f.clock.Now()), ""), "")
	wantKey(t, f.svc.SetTwoStep(ctx, f.actor, true), "")
	a, _ := f.db.AccountByID(ctx, f.actor.AccountID)
	if !a.TwoStep {
		t.Fatal("2-step not on")
	}
	stale := f.actor
	stale.AuthAt = f.clock.Now().Add(-time.Hour)
	wantKey(t, f.svc.Remove(ctx, stale, en.FactorID), "reauth.required")
	wantKey(t, f.svc.Remove(ctx, f.actor, en.FactorID), "")
	a, _ = f.db.AccountByID(ctx, f.actor.AccountID)
	if a.TwoStep {
		t.Fatal("2-step still on without a factor")
	}
	wantKey(t, f.svc.SetTwoStep(ctx, f.actor, true), "twostep.no_factor")
}

// TestSecretCountedInTheFactor: VerifyTOTP and UseRecoveryCode count every
// well-formed guess themselves, whoever calls them: after the free tries
// even the right code waits, each authenticator on its own counter;
// malformed input spends nothing.
func TestSecretCountedInTheFactor(t *testing.T) {
	for name, db := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, db)
			en, err := f.svc.EnrolTOTP(ctx, f.actor, "hanako")
			if err != nil {
				t.Fatal(err)
			}
			wantKey(t, f.svc.ConfirmTOTP(ctx, f.actor, en.FactorID, code(t, en.Secret, f.clock.Now()), ""), "")
			rc, err := f.svc.GenerateRecoveryCodes(ctx, f.actor)
			if err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(30 * time.Second)
			stranger := factors.From{IP: "192.0.2.7"}
			for range 10 {
				wantKey(t, f.svc.VerifyTOTP(ctx, f.actor.AccountID, "12 34", stranger), "totp.wrong") // malformed: free
			}
			for i := range throttle.DefaultPolicy.Free + 1 {
				if err := f.svc.VerifyTOTP(ctx, f.actor.AccountID, "000000", stranger); monban.ErrorCodeOf(err) != monban.EUnauthorized {
					t.Fatalf("guess %d: %v", i+1, err)
				}
			}
			wantKey(t, f.svc.VerifyTOTP(ctx, f.actor.AccountID, code(t, en.Secret, f.clock.Now()), stranger), "secret.throttled")
			// Recovery codes are another authenticator with their own count.
			wantKey(t, f.svc.UseRecoveryCode(ctx, f.actor.AccountID, rc[0], stranger), "")
			for range throttle.DefaultPolicy.Free + 1 {
				wantKey(t, f.svc.UseRecoveryCode(ctx, f.actor.AccountID, "AAAA-BBBB-CCCC-DDDD", stranger), "recovery_code.wrong")
			}
			wantKey(t, f.svc.UseRecoveryCode(ctx, f.actor.AccountID, rc[1], stranger), "secret.throttled")
			f.clock.Advance(30 * time.Second)
			wantKey(t, f.svc.VerifyTOTP(ctx, f.actor.AccountID, code(t, en.Secret, f.clock.Now()), stranger), "")
		})
	}
}
