package web_test

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"

	"github.com/monban-dev/monban/internal/web"
)

type alarmSource struct{ f func(string) }

func (a *alarmSource) OnBudgetAlarm(f func(string)) { a.f = f }

// series counts the series of one metric family in m's registry and
// returns the values of one label.
func series(t *testing.T, m *web.Metrics, name, label string) (int, map[string]bool) {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]bool{}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == label {
					values[l.GetValue()] = true
				}
			}
		}
		return len(f.GetMetric()), values
	}
	return 0, values
}

// TestMetricLabelsBounded feeds attacker-chosen values (SMS budget alarms
// for thousands of number prefixes, requests to random paths) and checks
// that the number of series stays bounded by what monban defines, not by
// what was sent.
func TestMetricLabelsBounded(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	t.Run("SMS budget alarms", func(t *testing.T) {
		m := web.NewMetrics()
		src := &alarmSource{}
		m.Budget(src, slog.New(slog.NewTextHandler(io.Discard, nil)))
		src.f("global")
		for range 3000 {
			src.f(fmt.Sprintf("prefix:+%d", rnd.IntN(1_000_000_000)))
		}
		src.f("prefix:+81901234")
		n, regions := series(t, m, "monban_sms_budget_exceeded_total", "region")
		if n > 260 {
			t.Errorf("%d series after 3000 prefixes, want at most one per region", n)
		}
		if !regions["JP"] {
			t.Errorf("regions %v lack JP for +81…", regions)
		}
		for r := range regions {
			if len(r) > 3 {
				t.Errorf("region label %q is not a region code", r)
			}
		}
	})
	t.Run("requests to random paths", func(t *testing.T) {
		h := newHarness(t, "sqlite")
		for i := range 300 {
			method := []string{"GET", "POST", "PUT", "BREW", "DELETE"}[i%5]
			h.do(request{method: method, path: fmt.Sprintf("/%x/%x", rnd.Uint64(), rnd.Uint64())})
			h.do(request{method: method, path: fmt.Sprintf("/api/v1/accounts/%x/knowledge", rnd.Uint64())})
		}
		_, routes := series(t, h.n.Web.Metrics(), "monban_http_requests_total", "route")
		for r := range routes {
			if r != "unmatched" && r != "PUT /api/v1/accounts/{id}/knowledge" {
				t.Errorf("route label %q is neither the route pattern nor \"unmatched\"", r)
			}
		}
	})
}
