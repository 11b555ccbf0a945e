package risk

import (
	"strings"
	"testing"
)

func TestWarnings(t *testing.T) {
	tests := []struct {
		name string
		rule string   // one rule's fields, indented as in the file
		want []string // substrings of the one warning; nil: no warning
	}{
		{name: "lock on failed sign-ins alone",
			rule: "on: [signin.failure]\n    when: 'count(\"signin.failure\", \"1h\") >= 5'\n    action: lock",
			want: []string{"signin.failure", "only the account's name", "verify_phone"}},
		{name: "the same as a step-up: the owner passes it",
			rule: "on: [signin.failure]\n    when: 'count(\"signin.failure\", \"1h\") >= 5'\n    action: step_up\n    step_up: verify_phone"},
		{name: "review lock on code requests, any signal",
			rule: "when: 'count(\"code.requested\", \"10m\") > 3'\n    action: lock_review",
			want: []string{"lock_review", "code.requested"}},
		{name: "suspend on every failure, no aggregate",
			rule: "on: [signin.failure]\n    when: 'true'\n    action: suspend",
			want: []string{"suspend", "signin.failure"}},
		{name: "lock on follows",
			rule: "on: [follow]\n    when: 'count(\"follow\", \"1h\") > 400'\n    action: lock"},
		{name: "lock on purchases",
			rule: "on: [purchase]\n    when: 'sum(\"purchase.amount\", \"24h\") >= 50000'\n    action: lock"},
		{name: "failures counted on a purchase",
			rule: "on: [purchase]\n    when: 'count(\"signin.failure\", \"1h\") >= 5'\n    action: lock"},
		{name: "failures and purchases: needs the account's own activity too",
			rule: "on: [signin.failure]\n    when: 'count(\"signin.failure\", \"1h\") >= 5 && count(\"purchase\", \"24h\") > 0'\n    action: lock"},
		{name: "failures or purchases: the failures alone suffice",
			rule: "on: [signin.failure]\n    when: 'count(\"signin.failure\", \"1h\") >= 5 || count(\"purchase\", \"24h\") > 3'\n    action: lock",
			want: []string{"signin.failure"}},
		{name: "failures and no purchases: true for an idle account",
			rule: "on: [signin.failure]\n    when: 'count(\"signin.failure\", \"1h\") >= 5 && count(\"purchase\", \"24h\") < 1'\n    action: lock",
			want: []string{"signin.failure"}},
		{name: "failures and not a purchase: true for an idle account",
			rule: "on: [signin.failure]\n    when: 'count(\"signin.failure\", \"1h\") >= 5 && !(count(\"purchase\", \"24h\") > 0)'\n    action: lock",
			want: []string{"signin.failure"}},
		{name: "failures over successes: needs a sign-in with the password",
			rule: "on: [signin.failure]\n    when: 'ratio(\"signin.failure\", \"signin.success\", \"1h\") > 3.0'\n    action: lock"},
		{name: "any signal, but only a purchase acts",
			rule: "when: 'signal.type == \"purchase\" && count(\"signin.failure\", \"1h\") > 5'\n    action: lock"},
		{name: "failures by ip still lock the named account",
			rule: "on: [signin.failure]\n    when: 'count(\"signin.failure\", \"10m\", {\"by\": \"ip\"}) >= 50'\n    action: lock",
			want: []string{"by device or ip does not help"}},
		{name: "shadow mode is still warned, and says so",
			rule: "on: [signin.failure]\n    when: 'count(\"signin.failure\", \"1h\") >= 5'\n    action: lock\n    shadow: true",
			want: []string{"signin.failure", "shadow mode"}},
		{name: "support requests",
			rule: "on: [support.requested]\n    when: 'count(\"support.requested\", \"1d\") >= 3'\n    action: lock_review",
			want: []string{"support.requested"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := mustParse(t, "version: \"1\"\nrules:\n  - id: r1\n    "+tt.rule+"\n")
			ws := rs.Warnings()
			if tt.want == nil {
				if len(ws) != 0 {
					t.Fatalf("warnings %v, want none", ws)
				}
				return
			}
			if len(ws) != 1 || ws[0].RuleID != "r1" || ws[0].Code != WarnLockWeapon {
				t.Fatalf("warnings %v, want one %s for r1", ws, WarnLockWeapon)
			}
			for _, s := range tt.want {
				if !strings.Contains(ws[0].Message, s) {
					t.Errorf("message %q lacks %q", ws[0].Message, s)
				}
			}
			if !strings.Contains(tt.rule, "shadow") && strings.Contains(ws[0].Message, "shadow") {
				t.Errorf("an enforced rule's message mentions shadow mode: %q", ws[0].Message)
			}
		})
	}
}
