package risk

import (
	"strings"
	"testing"

	"github.com/monban-dev/monban"
)

// FuzzParse: a rules file is operator input, edited by hand and checked
// with "monban rules check". Whatever the bytes, Parse answers with a
// ruleset or an error, never a panic; a ruleset it accepts has a version
// and distinct rule ids, and evaluating it on any signal of a type it
// names, with no history, does not panic (a CEL runtime error, such as a
// missing attribute, is an answer: the rule is skipped and logged).
func FuzzParse(f *testing.F) {
	f.Add([]byte(testRules))
	f.Add([]byte("version: v\nrules:\n- {id: x, when: 'true', action: lock}"))
	f.Add([]byte("version: v\nrules:\n- {id: r, on: [purchase], when: 'ratio(\"return\", \"purchase\", \"90d\") >= 0.05', action: lock_review, category: payment}"))
	f.Add([]byte("version: v\nbreaker: {window: 1h, multiple: 5}\nrules: []"))
	f.Fuzz(func(t *testing.T, src []byte) {
		rs, err := Parse(src)
		if err != nil {
			return
		}
		if strings.TrimSpace(rs.Version) == "" {
			t.Fatalf("accepted a file without a version: %q", src)
		}
		ids := map[string]bool{}
		types := map[string]bool{"follow": true}
		for _, r := range rs.Rules {
			if ids[r.ID] {
				t.Fatalf("accepted rule id %q twice", r.ID)
			}
			ids[r.ID] = true
			for _, typ := range r.On {
				types[typ] = true
			}
		}
		_ = rs.Warnings()
		ev, err := rs.newEvaluator()
		if err != nil {
			t.Fatalf("accepted file has no evaluator: %v", err)
		}
		for typ := range types {
			s := monban.Signal{AccountID: "a", Type: typ, At: t0, Amount: 1, IP: "203.0.113.7", DeviceID: "d"}
			ev.evaluate(&s, newView(), t0, nil)
		}
	})
}
