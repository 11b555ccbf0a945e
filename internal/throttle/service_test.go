package throttle_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/clocktest"
	"github.com/monban-dev/monban/internal/sqlstore"
	"github.com/monban-dev/monban/internal/storetest"
	"github.com/monban-dev/monban/internal/throttle"
)

var ctx = context.Background()

var _ throttle.Store = (*sqlstore.DB)(nil)

func stores(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); fn(t, storetest.Open(t)) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); fn(t, storetest.OpenPostgres(t)) })
}

func newService(db *sqlstore.DB, cfg throttle.Config) (*throttle.Service, *clocktest.Clock) {
	clock := clocktest.New(storetest.Epoch)
	return throttle.New(db, clock, cfg, nil), clock
}

// fail claims a try and reports it failed; it returns Begin's error.
func fail(s *throttle.Service, a throttle.Attempt) error {
	tk, err := s.Begin(ctx, a)
	if err != nil {
		return err
	}
	s.Failed(ctx, tk)
	return nil
}

func wantRetryAt(t *testing.T, err error, at time.Time) {
	t.Helper()
	e, ok := monban.AsError(err)
	if !ok || e.Code != monban.ERateLimited || e.Key != "signin.throttled" || !e.RetryAt.Equal(at) {
		t.Fatalf("err = %v (retry %v), want signin.throttled until %v", err, e.RetryAt, at)
	}
}

// deviceOf registers a device for the account, as a successful sign-in does.
func deviceOf(t *testing.T, db *sqlstore.DB, accountID string) string {
	t.Helper()
	dev := monban.NewID("dev")
	s := &monban.Session{ID: monban.NewID("ses"), TokenHash: []byte(monban.NewID("tok")), AccountID: accountID, DeviceID: dev,
		Kind: monban.SessionWeb, AuthLevel: 1, CreatedAt: storetest.Epoch, LastSeenAt: storetest.Epoch,
		ExpiresAt: storetest.Epoch.Add(time.Hour)}
	d := &monban.Device{ID: dev, AccountID: accountID, Kind: monban.SessionWeb, CreatedAt: storetest.Epoch, LastSeenAt: storetest.Epoch}
	if err := db.CreateSession(ctx, s, d, monban.AuditEvent{At: storetest.Epoch, AccountID: accountID, Action: "test"}); err != nil {
		t.Fatal(err)
	}
	return dev
}

func newAccount(t *testing.T, db *sqlstore.DB) string {
	t.Helper()
	a := &monban.Account{ID: monban.NewID("acc"), Status: monban.AccountActive, Lang: "ja",
		CreatedAt: storetest.Epoch, UpdatedAt: storetest.Epoch}
	ids := []monban.Identifier{{Kind: monban.KindUsername, Value: "u" + a.ID[4:16], CreatedAt: storetest.Epoch}}
	if err := db.CreateAccount(ctx, a, ids, monban.AuditEvent{At: storetest.Epoch, AccountID: a.ID, Action: "test"}); err != nil {
		t.Fatal(err)
	}
	return a.ID
}

// TestStrangerCannotSlowOwner: failures from unknown devices grow the delay
// for unknown devices only; the owner's known device has its own counter.
func TestStrangerCannotSlowOwner(t *testing.T) {
	stores(t, func(t *testing.T, db *sqlstore.DB) {
		s, clock := newService(db, throttle.Config{PerIPHour: -1, GlobalPerMinute: -1})
		acc := newAccount(t, db)
		owner := deviceOf(t, db, acc)
		stranger := throttle.Attempt{Authenticator: throttle.Password, AccountIDs: []string{acc}, IP: "192.0.2.7"}
		for i := range 6 {
			if err := fail(s, stranger); err != nil {
				t.Fatalf("failure %d refused: %v", i+1, err)
			}
		}
		now := clock.Now()
		wantRetryAt(t, fail(s, stranger), now.Add(30*time.Second))
		// A stranger with a forged or foreign device cookie is a stranger.
		wantRetryAt(t, fail(s, throttle.Attempt{Authenticator: throttle.Password, AccountIDs: []string{acc}, DeviceID: "dev_other"}),
			now.Add(30*time.Second))
		ownerTry := throttle.Attempt{Authenticator: throttle.Password, AccountIDs: []string{acc}, DeviceID: owner, IP: "192.0.2.7"}
		tk, err := s.Begin(ctx, ownerTry)
		if err != nil {
			t.Fatalf("owner's device refused: %v", err)
		}
		if err := s.Succeeded(ctx, tk, acc); err != nil {
			t.Fatal(err)
		}
		// The owner's success does not hand the stranger new free tries.
		wantRetryAt(t, fail(s, stranger), now.Add(30*time.Second))
		clock.Advance(30 * time.Second)
		if err := fail(s, stranger); err != nil {
			t.Fatalf("after the delay: %v", err)
		}
		wantRetryAt(t, fail(s, stranger), clock.Now().Add(time.Minute))
	})
}

// TestUnknownIdentifierSameShape: an identifier that names no account is
// refused at exactly the same moments as one that does.
func TestUnknownIdentifierSameShape(t *testing.T) {
	stores(t, func(t *testing.T, db *sqlstore.DB) {
		s, clock := newService(db, throttle.Config{PerIPHour: -1, GlobalPerMinute: -1})
		known := throttle.Attempt{Authenticator: throttle.Password, AccountIDs: []string{newAccount(t, db)}, Identifier: "username:hanako"}
		unknown := throttle.Attempt{Authenticator: throttle.Password, Identifier: "username:nobody"}
		for i := range 40 {
			ek, eu := fail(s, known), fail(s, unknown)
			kk, ku := monban.ErrorCodeOf(ek), monban.ErrorCodeOf(eu)
			var rk, ru time.Time
			if e, ok := monban.AsError(ek); ok {
				rk = e.RetryAt
			}
			if e, ok := monban.AsError(eu); ok {
				ru = e.RetryAt
			}
			if kk != ku || !rk.Equal(ru) {
				t.Fatalf("try %d: known %v (%v), unknown %v (%v)", i+1, ek, rk, eu, ru)
			}
			clock.Advance(7 * time.Minute)
		}
	})
}

// TestDisabledAt100: the hundredth consecutive failure disables the
// password on that counter until Clear (a password reset).
func TestDisabledAt100(t *testing.T) {
	stores(t, func(t *testing.T, db *sqlstore.DB) {
		s, clock := newService(db, throttle.Config{PerIPHour: -1, GlobalPerMinute: -1})
		acc := newAccount(t, db)
		owner := deviceOf(t, db, acc)
		stranger := throttle.Attempt{Authenticator: throttle.Password, AccountIDs: []string{acc}}
		for i := range 100 {
			if err := fail(s, stranger); err != nil {
				t.Fatalf("failure %d refused: %v", i+1, err)
			}
			clock.Advance(time.Hour)
		}
		err := fail(s, stranger)
		if e, ok := monban.AsError(err); !ok || e.Key != "signin.password_disabled" {
			t.Fatalf("after 100 failures: %v, want signin.password_disabled", err)
		}
		// Never the whole account: the owner's device still signs in.
		if _, err := s.Begin(ctx, throttle.Attempt{Authenticator: throttle.Password, AccountIDs: []string{acc}, DeviceID: owner}); err != nil {
			t.Fatalf("owner refused: %v", err)
		}
		// Nor other authenticators.
		if _, err := s.Begin(ctx, throttle.Attempt{Authenticator: throttle.TOTP, AccountIDs: []string{acc}}); err != nil {
			t.Fatalf("TOTP refused: %v", err)
		}
		if err := s.Clear(ctx, throttle.Password, acc); err != nil {
			t.Fatal(err)
		}
		if err := fail(s, stranger); err != nil {
			t.Fatalf("after the reset: %v", err)
		}
	})
}

// TestIPAndGlobalLimits: per-IP and global failure budgets refuse unknown
// devices, not the owners' known devices.
func TestIPAndGlobalLimits(t *testing.T) {
	stores(t, func(t *testing.T, db *sqlstore.DB) {
		s, clock := newService(db, throttle.Config{PerIPHour: 3, GlobalPerMinute: 5})
		acc := newAccount(t, db)
		owner := deviceOf(t, db, acc)
		try := func(ip, ident string) error {
			return fail(s, throttle.Attempt{Authenticator: throttle.Password, Identifier: ident, IP: ip})
		}
		for i := range 3 {
			if err := try("198.51.100.1", "username:u"+string(rune('a'+i))); err != nil {
				t.Fatal(err)
			}
		}
		hour := clock.Now().Truncate(time.Hour).Add(time.Hour)
		wantRetryAt(t, try("198.51.100.1", "username:fresh"), hour)
		// IPv6: one /64 is one subscriber.
		for i := range 2 {
			if err := try("2001:db8::"+string(rune('1'+i)), "username:v6"+string(rune('a'+i))); err != nil {
				t.Fatal(err)
			}
		}
		minute := clock.Now().Truncate(time.Minute).Add(time.Minute)
		wantRetryAt(t, try("203.0.113.9", "username:other"), minute)
		if _, err := s.Begin(ctx, throttle.Attempt{Authenticator: throttle.Password, AccountIDs: []string{acc}, DeviceID: owner, IP: "198.51.100.1"}); err != nil {
			t.Fatalf("owner refused during the flood: %v", err)
		}
	})
}

// TestConcurrentClaims: of many simultaneous tries, exactly the free ones
// plus one get through, on one node or several.
func TestConcurrentClaims(t *testing.T) {
	stores(t, func(t *testing.T, db *sqlstore.DB) {
		s, _ := newService(db, throttle.Config{PerIPHour: -1, GlobalPerMinute: -1})
		acc := newAccount(t, db)
		var wg sync.WaitGroup
		var mu sync.Mutex
		allowed := 0
		for range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.Begin(ctx, throttle.Attempt{Authenticator: throttle.Password, AccountIDs: []string{acc}}); err == nil {
					mu.Lock()
					allowed++
					mu.Unlock()
				} else if monban.ErrorCodeOf(err) != monban.ERateLimited {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if want := throttle.DefaultPolicy.Free + 1; allowed != want {
			t.Fatalf("%d tries allowed, want %d", allowed, want)
		}
	})
}

type alert struct {
	account, auth string
	disabled      bool
}

// TestSecretCheck: Check claims before it compares (a refused try never
// reaches compare), a success resets the counter and a failure keeps it;
// the owner is alerted when a stranger's counter first reaches a delay and
// when it reaches DisableAt — once each per episode.
func TestSecretCheck(t *testing.T) {
	stores(t, func(t *testing.T, db *sqlstore.DB) {
		var alerts []alert
		cfg := throttle.Config{PerIPHour: -1, GlobalPerMinute: -1, Alert: func(_ context.Context, acc, auth string, disabled bool) {
			alerts = append(alerts, alert{acc, auth, disabled})
		}}
		s, clock := newService(db, cfg)
		acc := newAccount(t, db)
		owner := deviceOf(t, db, acc)
		wrong := monban.Errorf(monban.EUnauthorized, "totp.wrong")
		compared := 0
		try := func(dev string, ok bool) error {
			return s.Check(ctx, throttle.Attempt{Authenticator: throttle.TOTP, AccountIDs: []string{acc}, DeviceID: dev},
				func() error {
					compared++
					if ok {
						return nil
					}
					return wrong
				})
		}
		for i := range 6 {
			if err := try("", false); err != wrong {
				t.Fatalf("try %d: %v", i+1, err)
			}
		}
		wantSecretRetry(t, try("", true), clock.Now().Add(30*time.Second))
		if compared != 6 {
			t.Fatalf("compared %d times, want 6: a refused try must not reach the compare", compared)
		}
		if want := []alert{{acc, throttle.TOTP, false}}; len(alerts) != 1 || alerts[0] != want[0] {
			t.Fatalf("alerts %v, want %v", alerts, want)
		}
		// The owner's device: its own counter, no alert for its failures.
		for range 7 {
			_ = try(owner, false)
		}
		if err := try(owner, true); err == nil || len(alerts) != 1 {
			t.Fatalf("owner's 8th try: %v, alerts %v", err, alerts)
		}
		clock.Advance(time.Hour)
		if err := try("", true); err != nil {
			t.Fatalf("after the delay: %v", err)
		}
		// A success ended the episode: the next one alerts again.
		for range 6 {
			_ = try("", false)
		}
		if len(alerts) != 2 {
			t.Fatalf("alerts %v, want a second episode", alerts)
		}
	})
}

// TestSecretDisableAlert: the hundredth consecutive failure alerts as
// "disabled", and the authenticator is then refused for strangers only.
func TestSecretDisableAlert(t *testing.T) {
	stores(t, func(t *testing.T, db *sqlstore.DB) {
		var alerts []alert
		s, clock := newService(db, throttle.Config{PerIPHour: -1, GlobalPerMinute: -1, Alert: func(_ context.Context, acc, auth string, disabled bool) {
			alerts = append(alerts, alert{acc, auth, disabled})
		}})
		acc := newAccount(t, db)
		a := throttle.Attempt{Authenticator: throttle.RecoveryCode, AccountIDs: []string{acc}}
		fail := func() error { return monban.Errorf(monban.EUnauthorized, "recovery_code.wrong") }
		for i := range 100 {
			if err := s.Check(ctx, a, fail); monban.ErrorCodeOf(err) != monban.EUnauthorized {
				t.Fatalf("failure %d: %v", i+1, err)
			}
			clock.Advance(time.Hour)
		}
		err := s.Check(ctx, a, func() error { return nil })
		if e, ok := monban.AsError(err); !ok || e.Key != "recovery_code.disabled" {
			t.Fatalf("after 100: %v", err)
		}
		if len(alerts) != 2 || alerts[0].disabled || !alerts[1].disabled {
			t.Fatalf("alerts %v, want delay then disabled", alerts)
		}
		if err := s.ClearAfterReset(ctx, acc); err != nil {
			t.Fatal(err)
		}
		if err := s.Check(ctx, a, func() error { return nil }); err != nil {
			t.Fatalf("after a password reset: %v", err)
		}
	})
}

func wantSecretRetry(t *testing.T, err error, at time.Time) {
	t.Helper()
	e, ok := monban.AsError(err)
	if !ok || e.Code != monban.ERateLimited || e.Key != "secret.throttled" || !e.RetryAt.Equal(at) {
		t.Fatalf("err = %v, want secret.throttled until %v", err, at)
	}
}
