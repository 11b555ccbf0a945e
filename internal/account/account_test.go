package account_test

import (
	"context"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/clocktest"
	"github.com/monban-dev/monban/internal/identifier"
	"github.com/monban-dev/monban/internal/password"
	"github.com/monban-dev/monban/internal/sqlstore"
	"github.com/monban-dev/monban/internal/storetest"
	"github.com/monban-dev/monban/internal/throttle"
)

var ctx = context.Background()

const goodPassword = "violet harbor quietly sings"

type normalizer struct{}

func (normalizer) Normalize(k monban.IdentifierKind, raw string) (string, error) {
	return identifier.Normalize(k, raw)
}

func (normalizer) Classify(raw string) (monban.IdentifierKind, string, error) {
	return identifier.Classify(raw)
}

// countingHasher records how many argon2id verifications each call made, so
// a test can check that every sign-in failure does the same work.
type countingHasher struct {
	*password.Hasher
	mu            sync.Mutex
	verify, dummy int
}

func (h *countingHasher) Verify(ctx context.Context, encoded, pw string) (bool, bool, error) {
	h.mu.Lock()
	h.verify++
	h.mu.Unlock()
	return h.Hasher.Verify(ctx, encoded, pw)
}

func (h *countingHasher) VerifyDummy(ctx context.Context, pw string) {
	h.mu.Lock()
	h.dummy++
	h.mu.Unlock()
	h.Hasher.VerifyDummy(ctx, pw)
}

func (h *countingHasher) reset() (verify, dummy int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	verify, dummy = h.verify, h.dummy
	h.verify, h.dummy = 0, 0
	return verify, dummy
}

var fastParams = password.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

type fixture struct {
	db     *sqlstore.DB
	hasher *countingHasher
	clock  *clocktest.Clock
	svc    *account.Service
	risk   *signals
}

// noLocks locks nothing; passGate lets every right password through.
type noLocks struct{}

func (noLocks) ActiveLock(context.Context, string) (*monban.Lock, error) { return nil, nil }

type passGate struct{}

func (passGate) Hold(context.Context, *monban.Account, account.Meta) (*account.Held, *account.Pass, error) {
	return nil, nil, nil
}

// guards are the sign-in throttle (default policy; no IP or global
// limits), a recorder of signals, no locks and the store's limits.
func guards(db *sqlstore.DB, clock *clocktest.Clock, rec *signals) account.Guards {
	return account.Guards{Throttle: throttle.New(db, clock, throttle.Config{PerIPHour: -1, GlobalPerMinute: -1}, nil),
		Risk: rec, Locks: noLocks{}, Limits: db}
}

func newService(t *testing.T, store account.Store, db *sqlstore.DB, h account.Hasher, clock *clocktest.Clock, rec *signals, cfg account.Config) *account.Service {
	t.Helper()
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout, cfg.AbsoluteTimeout = time.Hour, 24*time.Hour
	}
	svc, err := account.New(store, h, password.NewPolicy(), normalizer{}, clock, rand.Reader, cfg, guards(db, clock, rec))
	if err != nil {
		t.Fatal(err)
	}
	svc.SetGate(passGate{})
	return svc
}

func newFixture(t *testing.T, db *sqlstore.DB, p password.Params) *fixture {
	h := &countingHasher{Hasher: password.NewHasher(p, 2)}
	clock := clocktest.New(storetest.Epoch)
	rec := &signals{}
	svc := newService(t, db, db, h, clock, rec, account.Config{})
	return &fixture{db: db, hasher: h, clock: clock, svc: svc, risk: rec}
}

func eachStore(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	for name, db := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) { fn(t, db) })
	}
}

// TestSignInFailuresDoTheSameWork: an unknown or malformed identifier pays
// for one dummy hash, a wrong password or a disabled account for one real
// one, and all answer with the same error. This is the timing-independent
// half of the enumeration defence.
func TestSignInFailuresDoTheSameWork(t *testing.T) {
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, fastParams)
		if _, err := f.svc.Register(ctx, account.RegisterInput{Username: "taro", Password: goodPassword}); err != nil {
			t.Fatal(err)
		}
		off, err := f.svc.Register(ctx, account.RegisterInput{Username: "hanako", Password: goodPassword})
		if err != nil {
			t.Fatal(err)
		}
		// There is no use case to disable an account yet; a fake store
		// wrapper keeps this test on the real one.
		disabled := &disablingStore{DB: db, id: off.Account.ID}
		svc := newService(t, disabled, db, f.hasher, f.clock, f.risk, account.Config{})
		f.hasher.reset()
		for _, c := range []struct {
			name, identifier, password string
			verify, dummy              int
		}{
			{"wrong password", "taro", "amber lantern under snowfall", 1, 0},
			{"unknown username", "nobody", goodPassword, 0, 1},
			{"unknown email", "nobody@example.com", goodPassword, 0, 1},
			{"malformed identifier", "??", goodPassword, 0, 1},
			{"disabled account", "hanako", goodPassword, 1, 0},
		} {
			_, err := svc.SignIn(ctx, account.SignInInput{Identifier: c.identifier, Password: c.password})
			if !account.IsSignInFailure(err) || monban.ErrorCodeOf(err) != monban.EUnauthorized {
				t.Errorf("%s: err %v, want signin.failed", c.name, err)
			}
			e, _ := monban.AsError(err)
			if e.Field != "" || len(e.Params) != 0 {
				t.Errorf("%s: the failure says more than the others: %+v", c.name, e)
			}
			if v, d := f.hasher.reset(); v+d != 1 || v != c.verify || d != c.dummy {
				t.Errorf("%s: %d verifications and %d dummies, want %d and %d", c.name, v, d, c.verify, c.dummy)
			}
		}
	})
}

// disablingStore reports one account as disabled.
type disablingStore struct {
	*sqlstore.DB
	id string
}

func (s *disablingStore) AccountsByIdentifier(ctx context.Context, kind monban.IdentifierKind, value string) ([]monban.Account, error) {
	as, err := s.DB.AccountsByIdentifier(ctx, kind, value)
	for i := range as {
		if as[i].ID == s.id {
			as[i].Status = monban.AccountDisabled
		}
	}
	return as, err
}

// TestRehashOnSignIn: a hash made with older parameters is replaced at the
// next successful sign-in, and the old one keeps working until then.
func TestRehashOnSignIn(t *testing.T) {
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		old := newFixture(t, db, fastParams)
		reg, err := old.svc.Register(ctx, account.RegisterInput{Username: "taro", Password: goodPassword})
		if err != nil {
			t.Fatal(err)
		}
		newer := fastParams
		newer.Time = 2
		f := newFixture(t, db, newer)
		if _, err := f.svc.SignIn(ctx, account.SignInInput{Identifier: "taro", Password: goodPassword}); err != nil {
			t.Fatal(err)
		}
		a, err := db.AccountByID(ctx, reg.Account.ID)
		if err != nil {
			t.Fatal(err)
		}
		if a.PasswordHash == reg.Account.PasswordHash {
			t.Error("hash not upgraded")
		}
		if ok, rehash, err := f.hasher.Hasher.Verify(ctx, a.PasswordHash, goodPassword); !ok || rehash || err != nil {
			t.Errorf("upgraded hash: ok %v rehash %v err %v", ok, rehash, err)
		}
		evs, err := db.AuditByAccount(ctx, reg.Account.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, ev := range evs {
			found = found || ev.Action == monban.AuditPasswordRehash
		}
		if !found {
			t.Error("no password.rehashed audit entry")
		}
	})
}

// TestSessionLifetimes: idle and absolute timeouts, with the fake clock.
func TestSessionLifetimes(t *testing.T) {
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, fastParams)
		si, err := f.svc.Register(ctx, account.RegisterInput{Username: "taro", Password: goodPassword})
		if err != nil {
			t.Fatal(err)
		}
		if !si.Session.ExpiresAt.Equal(storetest.Epoch.Add(24 * time.Hour)) {
			t.Errorf("expires %v", si.Session.ExpiresAt)
		}
		check := func(want bool) {
			t.Helper()
			_, err := f.svc.Authenticate(ctx, si.Token)
			if got := err == nil; got != want {
				t.Fatalf("at +%v: accepted %v, want %v (err %v)", f.clock.Now().Sub(storetest.Epoch), got, want, err)
			}
			if err != nil && monban.ErrorCodeOf(err) != monban.EUnauthorized {
				t.Fatalf("err %v, want unauthorized", err)
			}
		}
		for i := 0; i < 47; i++ { // used every 30 minutes for 23.5 hours
			f.clock.Advance(30 * time.Minute)
			check(true)
		}
		f.clock.Advance(30 * time.Minute)
		check(false) // absolute timeout, although in use

		res, err := f.svc.SignIn(ctx, account.SignInInput{Identifier: "taro", Password: goodPassword})
		if err != nil {
			t.Fatal(err)
		}
		si = res.SignedIn
		f.clock.Advance(time.Hour - time.Second)
		check(true)
		f.clock.Advance(time.Hour)
		check(false) // idle
		for _, tok := range []string{"", "mbs_", "mbs_unknown", "x" + si.Token} {
			if _, err := f.svc.Authenticate(ctx, tok); monban.ErrorCodeOf(err) != monban.EUnauthorized {
				t.Errorf("token %q: err %v", tok, err)
			}
		}
	})
}

func TestDeviceLabel(t *testing.T) {
	for _, c := range []struct{ ua, want string }{
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36", "Chrome / Android"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari / iOS"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0", "Edge / Windows"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0", "Firefox / macOS"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0 Safari/537.36", "Chrome / Linux"},
		{"", "?"},
		{"monban-ios/1.0", "monban-ios/1.0"},
		{"あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほ", "あいうえおかきくけこさしす"}, // 40 bytes, whole runes
	} {
		if got := account.DeviceLabel(c.ua); got != c.want {
			t.Errorf("DeviceLabel(%q) = %q, want %q", c.ua, got, c.want)
		}
	}
}
