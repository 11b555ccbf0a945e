package account_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/clocktest"
	"github.com/monban-dev/monban/internal/password"
	"github.com/monban-dev/monban/internal/storetest"
)

// TestSignUpsPerAddress: sign-ups are counted per address (an IPv6 /64 as
// one), per hour and per day; a negative limit is off. Each row opens
// accounts from the given addresses in order and says which are refused.
func TestSignUpsPerAddress(t *testing.T) {
	for _, c := range []struct {
		name       string
		hour, day  int
		ips        []string
		advance    time.Duration // between sign-ups
		refusedIdx []int
	}{
		{"the hour's limit", 2, 0, []string{"192.0.2.1", "192.0.2.1", "192.0.2.1"}, 0, []int{2}},
		{"another address has its own", 2, 0, []string{"192.0.2.1", "192.0.2.1", "192.0.2.2"}, 0, nil},
		{"one IPv6 /64 is one address", 2, 0, []string{"2001:db8::1", "2001:db8::2", "2001:db8::ffff:1"}, 0, []int{2}},
		{"another /64 is another", 2, 0, []string{"2001:db8::1", "2001:db8::2", "2001:db8:0:1::1"}, 0, nil},
		{"the next hour allows again", 2, 0, []string{"192.0.2.1", "192.0.2.1", "192.0.2.1"}, time.Hour, nil},
		{"the day's limit outlasts hours", 5, 2, []string{"192.0.2.1", "192.0.2.1", "192.0.2.1"}, time.Hour, []int{2}},
		{"off", -1, -1, []string{"192.0.2.1", "192.0.2.1", "192.0.2.1", "192.0.2.1"}, 0, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := storetest.Open(t)
			clock := clocktest.New(storetest.Epoch.Truncate(24 * time.Hour).Add(time.Hour))
			svc := newService(t, db, db, &countingHasher{Hasher: password.NewHasher(fastParams, 2)}, clock, &signals{},
				account.Config{SignUpsPerIPHour: c.hour, SignUpsPerIPDay: c.day})
			for i, ip := range c.ips {
				_, err := svc.Register(ctx, account.RegisterInput{Username: fmt.Sprintf("user%d", i), Password: goodPassword,
					Meta: account.Meta{IP: ip}})
				refused := monban.ErrorCodeOf(err) == monban.ERateLimited
				want := false
				for _, r := range c.refusedIdx {
					want = want || r == i
				}
				if refused != want || (err != nil && !refused) {
					t.Errorf("sign-up %d from %s: %v, want refused %v", i, ip, err, want)
				}
				clock.Advance(c.advance)
			}
		})
	}
}
