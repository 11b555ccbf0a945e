package account_test

import (
	"crypto/rand"
	"testing"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/clocktest"
	"github.com/monban-dev/monban/internal/password"
	"github.com/monban-dev/monban/internal/storetest"
)

// TestWiringFailsClosed: a service cannot be built without any of its
// guards, and without the second-step gate it reports itself unwired and
// signs nobody in (the password alone never suffices by omission).
func TestWiringFailsClosed(t *testing.T) {
	db := storetest.Open(t)
	clock := clocktest.New(storetest.Epoch)
	h := password.NewHasher(fastParams, 2)
	full := guards(db, clock, &signals{})
	for _, c := range []struct {
		name string
		drop func(*account.Guards)
	}{
		{"no throttle", func(g *account.Guards) { g.Throttle = nil }},
		{"no risk recorder", func(g *account.Guards) { g.Risk = nil }},
		{"no lock checker", func(g *account.Guards) { g.Locks = nil }},
		{"no sign-up limiter", func(g *account.Guards) { g.Limits = nil }},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := full
			c.drop(&g)
			if svc, err := account.New(db, h, password.NewPolicy(), normalizer{}, clock, rand.Reader, account.DefaultConfig, g); err == nil || svc != nil {
				t.Errorf("New = %v, %v; want an error", svc, err)
			}
		})
	}
	t.Run("no gate", func(t *testing.T) {
		svc, err := account.New(db, h, password.NewPolicy(), normalizer{}, clock, rand.Reader, account.DefaultConfig, full)
		if err != nil {
			t.Fatal(err)
		}
		if svc.Wired() == nil {
			t.Error("Wired() = nil without a gate")
		}
		if _, err := svc.Register(ctx, account.RegisterInput{Username: "taro", Password: goodPassword}); err != nil {
			t.Fatal(err)
		}
		res, err := svc.SignIn(ctx, account.SignInInput{Identifier: "taro", Password: goodPassword})
		if err == nil || monban.ErrorCodeOf(err) != monban.EInternal {
			t.Errorf("SignIn without a gate = %+v, %v; want refused", res, err)
		}
		svc.SetGate(passGate{})
		if svc.Wired() != nil {
			t.Errorf("Wired() = %v with a gate", svc.Wired())
		}
	})
}
