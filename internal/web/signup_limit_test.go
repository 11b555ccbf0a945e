package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/monban-dev/monban/internal/node"
)

// TestSignUpLimitedPerAddress: accounts opened from one address are
// limited per hour (here 3) on the API and the sign-up page alike; the
// refusal is 429 with Retry-After and retry_at (the next hour), the page
// names the time, nothing is written, and the next window allows again.
func TestSignUpLimitedPerAddress(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		register := func(i int) *response {
			return h.do(request{method: "POST", path: "/api/v1/accounts", lang: "en",
				json: map[string]any{"username": fmt.Sprintf("user%d", i), "password": goodPassword}})
		}
		for i := range 3 {
			register(i).wantStatus(t, http.StatusCreated)
		}
		before := h.snapshot()
		r := register(3).wantStatus(t, http.StatusTooManyRequests)
		p := r.problem(t)
		nextHour := t0.Truncate(time.Hour).Add(time.Hour)
		if p.Key != "limit.signup_ip" || p.RetryAt == nil || !p.RetryAt.Equal(nextHour) {
			t.Errorf("problem %s retry_at %v, want limit.signup_ip at %v", p.Key, p.RetryAt, nextHour)
		}
		if ra := r.header.Get("Retry-After"); ra != fmt.Sprint(int(nextHour.Sub(t0).Seconds())) {
			t.Errorf("Retry-After %q", ra)
		}
		// The page: the same limit, the time in the message.
		b := newBrowser(h)
		b.lang = "en"
		tok := b.form("/signup")
		pr := b.post("/signup", url.Values{"csrf": {tok}, "username": {"user4"}, "password": {goodPassword}}, nil)
		if pr.status != http.StatusTooManyRequests {
			t.Errorf("page: status %d, want 429", pr.status)
		}
		if !strings.Contains(string(pr.body), "Too many accounts were opened from your network. You can try again from ") ||
			strings.Contains(string(pr.body), "{time}") || pr.header.Get("Retry-After") == "" {
			t.Errorf("page lacks the limit and its time:\n%s", pr.body)
		}
		h.unchanged(before)
		h.clock.Advance(nextHour.Sub(t0))
		register(5).wantStatus(t, http.StatusCreated)
	}, func(c *node.Config) { c.SignUpsPerIPHour = 3 })
}
