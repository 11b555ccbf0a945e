package throttle_test

import (
	"errors"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/sqlstore"
	"github.com/monban-dev/monban/internal/throttle"
)

// TestSecretTokenLimit: the window a token's wrong tries count in is per
// kind and per network: one IPv4 address, or the /64 an IPv6 subscriber
// holds; a kind's own number wins over the service's.
func TestSecretTokenLimit(t *testing.T) {
	status := throttle.Token{Name: "support.link", Err: "support.link_limit", PerIP: 7, Window: 10 * time.Minute}
	for _, tc := range []struct {
		name, ip string
		kind     throttle.Token
		key      string
		max      int
		window   time.Duration
	}{
		{"ipv4", "192.0.2.7", throttle.ApprovalToken, "token:approval:ip:192.0.2.7", 10, time.Hour},
		{"ipv6 counts its /64", "2001:db8:1:2:aaaa::1", throttle.UndoToken, "token:undo:ip:2001:db8:1:2::/64", 10, time.Hour},
		{"mapped ipv4 is ipv4", "::ffff:192.0.2.7", throttle.UndoToken, "token:undo:ip:192.0.2.7", 10, time.Hour},
		{"a kind's own number", "192.0.2.7", status, "token:support.link:ip:192.0.2.7", 7, 10 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := throttle.TokenLimit(tc.kind, tc.ip, 10)
			if l.Key != tc.key || l.Max != tc.max || l.Window != tc.window || l.Err != tc.kind.Err {
				t.Fatalf("limit %+v, want key %s, %d per %v, err %s", l, tc.key, tc.max, tc.window, tc.kind.Err)
			}
		})
	}
}

// TestSecretCheckToken: wrong tokens are claimed before the compare and
// refused past the window with the time it ends; right ones and outages
// are given back; another network is not slowed.
func TestSecretCheckToken(t *testing.T) {
	stores(t, func(t *testing.T, db *sqlstore.DB) {
		s, clock := newService(db, throttle.Config{TokenFailuresPerIPHour: 3})
		k := throttle.ApprovalToken
		wrong := monban.Errorf(monban.ENotFound, "approval.not_found")
		check := func(ip string, err error) error {
			return s.CheckToken(ctx, k, ip, func() error { return err })
		}
		// The try is paid before the compare runs: a guess racing the
		// compare of another from the same network finds it counted.
		for i := range 2 {
			if err := check("192.0.2.7", wrong); err != wrong {
				t.Fatalf("wrong %d: %v", i+1, err)
			}
		}
		var inner error
		outer := s.CheckToken(ctx, k, "192.0.2.7", func() error {
			inner = check("192.0.2.7", nil)
			return wrong
		})
		if outer != wrong {
			t.Fatalf("third wrong: %v", outer)
		}
		end := clock.Now().Truncate(time.Hour).Add(time.Hour)
		wantTokenRetry(t, inner, end)
		// Right tokens and outages spend nothing once the window allows them.
		clock.Advance(time.Hour)
		for i := range 5 {
			if err := check("192.0.2.7", nil); err != nil {
				t.Fatalf("right %d: %v", i+1, err)
			}
		}
		outage := errors.New("database gone")
		for range 5 {
			if err := check("192.0.2.7", outage); err != outage {
				t.Fatalf("outage: %v", err)
			}
		}
		for i := range 3 {
			if err := check("192.0.2.7", wrong); err != wrong {
				t.Fatalf("wrong %d after right ones: %v", i+1, err)
			}
		}
		wantTokenRetry(t, check("192.0.2.7", nil), clock.Now().Truncate(time.Hour).Add(time.Hour))
		if err := check("198.51.100.9", wrong); err != wrong {
			t.Fatalf("another network: %v", err)
		}
		if err := s.CheckToken(ctx, throttle.UndoToken, "192.0.2.7", func() error { return nil }); err != nil {
			t.Fatalf("another kind of token: %v", err)
		}
	})
}

func wantTokenRetry(t *testing.T, err error, at time.Time) {
	t.Helper()
	e, ok := monban.AsError(err)
	if !ok || e.Code != monban.ERateLimited || e.Key != "approval.link_limit" || !e.RetryAt.Equal(at) {
		t.Fatalf("err = %v, want approval.link_limit until %v", err, at)
	}
}

// TestSecretTokenGiveBackNoCredit: giving back a try never leaves credit:
// a window that counted nothing stays at nothing, so a right token cannot
// buy a guesser extra wrong ones.
func TestSecretTokenGiveBackNoCredit(t *testing.T) {
	stores(t, func(t *testing.T, db *sqlstore.DB) {
		s, clock := newService(db, throttle.Config{TokenFailuresPerIPHour: 1})
		now := clock.Now()
		l := []monban.Limit{throttle.TokenLimit(throttle.UndoToken, "192.0.2.7", 1)}
		for range 3 {
			if err := db.ReleaseLimits(ctx, now, l); err != nil {
				t.Fatal(err)
			}
		}
		wrong := monban.Errorf(monban.EInvalid, "undo.invalid")
		if err := s.CheckToken(ctx, throttle.UndoToken, "192.0.2.7", func() error { return wrong }); err != wrong {
			t.Fatalf("first wrong: %v", err)
		}
		err := s.CheckToken(ctx, throttle.UndoToken, "192.0.2.7", func() error { return wrong })
		if e, ok := monban.AsError(err); !ok || e.Key != "undo.limit" {
			t.Fatalf("second wrong after three give-backs of nothing: %v, want undo.limit", err)
		}
	})
}
