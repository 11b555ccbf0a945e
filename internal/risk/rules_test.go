package risk

import (
	"strings"
	"testing"
	"time"

	"github.com/monban-dev/monban"
)

var t0 = time.Date(2026, 7, 8, 9, 0, 0, 0, time.UTC)

const testRules = `
version: "2026-07-08.1"
rules:
  - id: allow-staff
    on: [follow]
    when: '"staff" in signal.attrs && signal.attrs["staff"] == "yes"'
    action: allow
  - id: follow-burst
    on: [follow]
    when: 'count("follow", "1h") > 400'
    action: step_up
    step_up: verify_phone
  - id: gift-card
    on: [purchase]
    when: 'sum("purchase.amount", "24h", {"instrument": "gift_card"}) >= 50000'
    action: lock
    duration: 24h
    category: payment
    ways_out: [code, support]
  - id: returns
    on: [return]
    when: 'ratio("return", "purchase", "90d") >= 0.05 && count("purchase", "90d") >= 20'
    action: lock_review
    category: payment
  - id: failures-by-ip
    on: [signin.failure]
    when: 'count("signin.failure", "10m", {"by": "ip"}) >= 50'
    action: lock
    category: sign_in
    shadow: true
`

func mustParse(t *testing.T, src string) *Ruleset {
	t.Helper()
	rs, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// history builds n signals of typ spread over span before now.
func history(acc, typ string, n int, span time.Duration, amount int64, instrument string) []monban.Signal {
	out := make([]monban.Signal, n)
	for i := range out {
		out[i] = monban.Signal{AccountID: acc, Type: typ, At: t0.Add(-span + time.Duration(i)*span/time.Duration(max(n, 1))),
			Amount: amount, Instrument: instrument, IP: "203.0.113.7"}
	}
	return out
}

func TestEvaluate(t *testing.T) {
	rs := mustParse(t, testRules)
	tests := []struct {
		name    string
		past    []monban.Signal
		sig     monban.Signal
		action  string
		rule    string
		shadows []string
	}{
		{name: "a few follows", past: history("a", "follow", 50, time.Hour, 0, ""),
			sig: monban.Signal{AccountID: "a", Type: "follow"}, action: ActionAllow},
		{name: "a follow burst asks for the phone", past: history("a", "follow", 401, 50*time.Minute, 0, ""),
			sig: monban.Signal{AccountID: "a", Type: "follow"}, action: ActionStepUp, rule: "follow-burst"},
		{name: "the burst was yesterday", past: history("a", "follow", 401, 3*time.Hour, 0, "")[:300],
			sig: monban.Signal{AccountID: "a", Type: "follow"}, action: ActionAllow},
		{name: "an allow rule first wins", past: history("a", "follow", 401, 50*time.Minute, 0, ""),
			sig: monban.Signal{AccountID: "a", Type: "follow", Attrs: map[string]string{"staff": "yes"}}, action: ActionAllow, rule: "allow-staff"},
		{name: "gift cards under the limit", past: history("b", "purchase", 4, 20*time.Hour, 10000, "gift_card"),
			sig: monban.Signal{AccountID: "b", Type: "purchase", Amount: 5000, Instrument: "gift_card"}, action: ActionAllow},
		{name: "gift cards over the limit lock", past: history("b", "purchase", 5, 20*time.Hour, 10000, "gift_card"),
			sig: monban.Signal{AccountID: "b", Type: "purchase", Amount: 100, Instrument: "card"}, action: ActionLock, rule: "gift-card"},
		{name: "card purchases do not count as gift cards", past: history("b", "purchase", 9, 20*time.Hour, 10000, "card"),
			sig: monban.Signal{AccountID: "b", Type: "purchase", Amount: 100, Instrument: "card"}, action: ActionAllow},
		{name: "returns over 5%", past: append(history("c", "purchase", 38, 80*24*time.Hour, 1000, ""), history("c", "return", 2, 10*24*time.Hour, 0, "")...),
			sig: monban.Signal{AccountID: "c", Type: "return"}, action: ActionLockReview, rule: "returns"},
		{name: "returns under 5%", past: append(history("c", "purchase", 80, 80*24*time.Hour, 1000, ""), history("c", "return", 2, 10*24*time.Hour, 0, "")...),
			sig: monban.Signal{AccountID: "c", Type: "return"}, action: ActionAllow},
		{name: "shadow rules record, never act", past: history("d", "signin.failure", 60, 5*time.Minute, 0, ""),
			sig: monban.Signal{AccountID: "d", Type: "signin.failure", IP: "203.0.113.7"}, action: ActionAllow, shadows: []string{"failures-by-ip"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.sig.At = t0
			all := append(append([]monban.Signal{}, tt.past...), tt.sig)
			v, err := rs.Evaluate(&tt.sig, deltaRows(deltas(all)), t0)
			if err != nil {
				t.Fatal(err)
			}
			if got := v.Action(); got != tt.action {
				t.Errorf("action = %s, want %s (matches %+v)", got, tt.action, v.Matches)
			}
			if tt.rule != "" && (v.Enforce == nil || v.Enforce.Rule.ID != tt.rule) {
				t.Errorf("enforced rule = %+v, want %s", v.Enforce, tt.rule)
			}
			var shadows []string
			for _, m := range v.Matches {
				if m.Shadow {
					shadows = append(shadows, m.Rule.ID)
				}
			}
			if strings.Join(shadows, ",") != strings.Join(tt.shadows, ",") {
				t.Errorf("shadow matches = %v, want %v", shadows, tt.shadows)
			}
		})
	}
}

func TestLockDecisions(t *testing.T) {
	rs := mustParse(t, testRules)
	byID := map[string]*Rule{}
	for _, r := range rs.Rules {
		byID[r.ID] = r
	}
	tests := []struct {
		rule     string
		kind     monban.LockKind
		ways     []monban.WayOut
		duration time.Duration
		category string
	}{
		{"follow-burst", monban.LockStepUp, []monban.WayOut{monban.WayCode, monban.WaySupport}, 0, monban.CategoryUnusualActivity},
		{"gift-card", monban.LockTemp, []monban.WayOut{monban.WayCode, monban.WaySupport}, 24 * time.Hour, monban.CategoryPayment},
		{"returns", monban.LockReview, []monban.WayOut{monban.WaySupport}, 0, monban.CategoryPayment},
		{"allow-staff", "", nil, 0, ""},
	}
	for _, tt := range tests {
		r := byID[tt.rule]
		if r.Kind != tt.kind || r.Duration != tt.duration || r.Category != tt.category || !equalWays(r.Ways, tt.ways) {
			t.Errorf("%s: kind %q ways %v duration %v category %q; want %q %v %v %q", tt.rule, r.Kind, r.Ways, r.Duration,
				r.Category, tt.kind, tt.ways, tt.duration, tt.category)
		}
		if r.Version != "2026-07-08.1" {
			t.Errorf("%s: version %q", tt.rule, r.Version)
		}
	}
}

func equalWays(a, b []monban.WayOut) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseRefuses(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"no version", "rules: []", "version: required"},
		{"bad CEL", "version: v\nrules:\n- {id: x, when: 'count(\"a\",', action: lock}", "when:"},
		{"not bool", "version: v\nrules:\n- {id: x, when: 'count(\"a\",\"1h\")', action: lock}", "true or false"},
		{"bad window", "version: v\nrules:\n- {id: x, when: 'count(\"a\",\"1y\") > 1', action: lock}", "window"},
		{"window too long", "version: v\nrules:\n- {id: x, when: 'count(\"a\",\"91d\") > 1', action: lock}", "between"},
		{"computed args", "version: v\nrules:\n- {id: x, when: 'count(signal.type,\"1h\") > 1', action: lock}", "literals"},
		{"bad filter", "version: v\nrules:\n- {id: x, when: 'count(\"a\",\"1h\",{\"colour\":\"red\"}) > 1', action: lock}", "colour"},
		{"filter by ip per instrument", "version: v\nrules:\n- {id: x, when: 'count(\"a\",\"1h\",{\"by\":\"ip\",\"instrument\":\"x\"}) > 1', action: lock}", "per account"},
		{"bad sum field", "version: v\nrules:\n- {id: x, when: 'sum(\"purchase\",\"1h\") > 1', action: lock}", "TYPE.amount"},
		{"bad action", "version: v\nrules:\n- {id: x, when: 'true', action: ban}", "action"},
		{"bad step-up", "version: v\nrules:\n- {id: x, when: 'true', action: step_up, step_up: selfie}", "step_up"},
		{"bad category", "version: v\nrules:\n- {id: x, when: 'true', action: lock, category: spooky}", "category"},
		{"duration on review", "version: v\nrules:\n- {id: x, when: 'true', action: lock_review, duration: 1h}", "duration"},
		{"repeated id", "version: v\nrules:\n- {id: x, when: 'true', action: lock}\n- {id: x, when: 'true', action: lock}", "repeated"},
		{"unknown key", "version: v\nrules:\n- {id: x, when: 'true', action: lock, colour: red}", "colour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// BenchmarkEvaluate measures one evaluation of the test rules with the
// aggregates in memory (the inline cost per signal).
func BenchmarkEvaluate(b *testing.B) {
	rs, err := Parse([]byte(testRules))
	if err != nil {
		b.Fatal(err)
	}
	ev, err := rs.newEvaluator()
	if err != nil {
		b.Fatal(err)
	}
	sigs := history("a", "follow", 300, time.Hour, 0, "")
	v := newView()
	v.addDeltas(deltas(sigs))
	s := monban.Signal{AccountID: "a", Type: "follow", At: t0}
	for b.Loop() {
		ev.evaluate(&s, v, t0, nil)
	}
}
