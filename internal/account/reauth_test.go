package account_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/sqlstore"
	"github.com/monban-dev/monban/internal/throttle"
)

// signals records what the service reported to the risk rules.
type signals struct {
	mu  sync.Mutex
	got []monban.Signal
}

func (s *signals) Record(_ context.Context, sigs ...monban.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, sigs...)
}

func (s *signals) count(typ string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, sig := range s.got {
		if sig.Type == typ {
			n++
		}
	}
	return n
}

// reauthFixture is taro signed in on his own device, with the sign-in
// throttle (default policy; no IP or global limits) and a risk recorder.
type reauthFixture struct {
	*fixture
	risk *signals
	cur  *account.Current
	own  account.Meta // a request from the session's device
}

func newReauthFixture(t *testing.T, db *sqlstore.DB) *reauthFixture {
	f := newFixture(t, db, fastParams)
	risk := f.risk
	si, err := f.svc.Register(ctx, account.RegisterInput{Username: "taro", Password: goodPassword, Meta: account.Meta{IP: "192.0.2.1"}})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := f.svc.Authenticate(ctx, si.Token)
	if err != nil {
		t.Fatal(err)
	}
	f.hasher.reset()
	return &reauthFixture{fixture: f, risk: risk, cur: cur, own: account.Meta{IP: "192.0.2.1", DeviceID: si.DeviceID}}
}

const wrongPassword = "amber lantern under snowfall"

func (f *reauthFixture) reauth(pw string, m account.Meta) error {
	return f.svc.CheckPassword(ctx, f.cur, pw, m)
}

func (f *reauthFixture) signIn(pw string, m account.Meta) error {
	_, err := f.svc.SignIn(ctx, account.SignInInput{Identifier: "taro", Password: pw, Meta: m})
	return err
}

// wrong fails n re-authentications, each checked by the hash.
func (f *reauthFixture) wrong(t *testing.T, n int, m account.Meta) {
	t.Helper()
	for i := range n {
		if err := f.reauth(wrongPassword, m); monban.ErrorCodeOf(err) != monban.EUnauthorized {
			t.Fatalf("wrong password %d: %v, want reauth.wrong_password", i+1, err)
		}
	}
	if v, _ := f.hasher.reset(); v != n {
		t.Fatalf("%d wrong passwords ran %d hashes", n, v)
	}
}

// wantThrottled checks a refusal until at that ran no hash.
func (f *reauthFixture) wantThrottled(t *testing.T, err error, at time.Time) {
	t.Helper()
	e, ok := monban.AsError(err)
	if !ok || e.Code != monban.ERateLimited || e.Key != "signin.throttled" || !e.RetryAt.Equal(at) {
		t.Fatalf("err = %v, want signin.throttled until %v", err, at)
	}
	if v, d := f.hasher.reset(); v+d != 0 {
		t.Fatalf("a throttled try ran %d hashes", v+d)
	}
}

// accountState is what a refused try must leave alone.
type accountState struct {
	hash     string
	audit    int
	sessions int
	signals  int
}

func (f *reauthFixture) state(t *testing.T) accountState {
	t.Helper()
	a, err := f.db.AccountByID(ctx, f.cur.Account.ID)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := f.db.AuditByAccount(ctx, a.ID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := f.db.SessionsByAccount(ctx, a.ID, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.risk.mu.Lock()
	defer f.risk.mu.Unlock()
	return accountState{hash: a.PasswordHash, audit: len(evs), sessions: len(ss), signals: len(f.risk.got)}
}

// TestReauthThrottled: wrong passwords at re-authentication slow down like
// failed sign-ins; a throttled try, even with the right password, runs no
// hash and changes nothing; after the delay the right password works and
// starts the count again. Every wrong password is audited and reported to
// the risk rules as a failed sign-in.
func TestReauthThrottled(t *testing.T) {
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newReauthFixture(t, db)
		free := throttle.DefaultPolicy.Free
		f.wrong(t, free+1, f.own)
		retry := f.clock.Now().Add(throttle.DefaultPolicy.Base)

		before := f.state(t)
		f.wantThrottled(t, f.reauth(goodPassword, f.own), retry)
		f.wantThrottled(t, f.reauth(wrongPassword, f.own), retry)
		if after := f.state(t); after != before {
			t.Errorf("a throttled try changed %+v to %+v", before, after)
		}

		f.clock.Set(retry)
		if err := f.reauth(goodPassword, f.own); err != nil {
			t.Fatalf("right password after the delay: %v", err)
		}
		if v, _ := f.hasher.reset(); v != 1 {
			t.Fatalf("the right password ran %d hashes", v)
		}
		// The count starts again: as many free failures as at first.
		f.wrong(t, free+1, f.own)
		f.wantThrottled(t, f.reauth(goodPassword, f.own), f.clock.Now().Add(throttle.DefaultPolicy.Base))

		evs, err := db.AuditByAccount(ctx, f.cur.Account.ID, 1000)
		if err != nil {
			t.Fatal(err)
		}
		failed := 0
		for _, ev := range evs {
			if ev.Action == monban.AuditReauthFailed {
				failed++
				if ev.Detail["session_id"] != f.cur.Session.ID || ev.IP != "192.0.2.1" {
					t.Errorf("audit entry %+v", ev)
				}
			}
		}
		if want := 2 * (free + 1); failed != want || f.risk.count(monban.SignalSignInFailure) != want {
			t.Errorf("%d audit entries and %d risk signals, want %d of each", failed, f.risk.count(monban.SignalSignInFailure), want)
		}
	})
}

// TestReauthSharesSignInBudget: failures at re-authentication and at sign-in
// add up on one counter: the device's own for the session's device, the
// account's shared one for any other browser. A stranger's sign-in failures
// do not slow the owner's re-authentication on the owner's device.
func TestReauthSharesSignInBudget(t *testing.T) {
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newReauthFixture(t, db)
		free := throttle.DefaultPolicy.Free
		stranger := account.Meta{IP: "198.51.100.9"}
		// Three wrong sign-ins and three wrong re-authentications from
		// the owner's device: six failures in all.
		for range 3 {
			if err := f.signIn(wrongPassword, f.own); !account.IsSignInFailure(err) {
				t.Fatalf("wrong sign-in: %v", err)
			}
		}
		f.hasher.reset()
		f.wrong(t, free+1-3, f.own)
		retry := f.clock.Now().Add(throttle.DefaultPolicy.Base)
		f.wantThrottled(t, f.reauth(goodPassword, f.own), retry)
		f.wantThrottled(t, f.signIn(goodPassword, f.own), retry)

		// A stranger's counter is another: the session token carried to
		// another browser (even one the account knows), and sign-ins from
		// devices the account does not know, spend it together.
		f.clock.Set(retry)
		if err := f.reauth(goodPassword, f.own); err != nil {
			t.Fatalf("owner after the delay: %v", err)
		}
		res, err := f.svc.SignIn(ctx, account.SignInInput{Identifier: "taro", Password: goodPassword, Meta: stranger})
		if err != nil || res.SignedIn == nil {
			t.Fatalf("sign-in from a second browser: %v", err)
		}
		for range free + 1 {
			if err := f.signIn(wrongPassword, stranger); !account.IsSignInFailure(err) {
				t.Fatalf("stranger's sign-in: %v", err)
			}
		}
		f.hasher.reset()
		elsewhere := account.Meta{IP: "198.51.100.9", DeviceID: res.SignedIn.DeviceID}
		f.wantThrottled(t, f.reauth(goodPassword, elsewhere), f.clock.Now().Add(throttle.DefaultPolicy.Base))
		if err := f.reauth(goodPassword, f.own); err != nil {
			t.Fatalf("the owner's device was slowed by the stranger: %v", err)
		}
	})
}

// TestReauthPausesPassword: the hundredth failure in a row pauses the
// password at re-authentication as at sign-in, without running the hash.
func TestReauthPausesPassword(t *testing.T) {
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newReauthFixture(t, db)
		for range throttle.DefaultPolicy.DisableAt {
			f.clock.Advance(throttle.DefaultPolicy.Max)
			f.wrong(t, 1, f.own)
		}
		f.clock.Advance(throttle.DefaultPolicy.Max)
		for _, err := range []error{f.reauth(goodPassword, f.own), f.signIn(goodPassword, f.own)} {
			if e, ok := monban.AsError(err); !ok || e.Key != "signin.password_disabled" {
				t.Fatalf("after %d failures: %v, want signin.password_disabled", throttle.DefaultPolicy.DisableAt, err)
			}
		}
		if v, d := f.hasher.reset(); v+d != 0 {
			t.Fatalf("a paused password ran %d hashes", v+d)
		}
		if n := f.risk.count(monban.SignalSignInFailure); n != throttle.DefaultPolicy.DisableAt {
			t.Errorf("%d risk signals, want %d", n, throttle.DefaultPolicy.DisableAt)
		}
		if !slices.ContainsFunc(f.risk.got, func(s monban.Signal) bool { return s.DeviceID == f.own.DeviceID }) {
			t.Error("the risk signals do not name the device")
		}
	})
}
