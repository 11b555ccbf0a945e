package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRulesCheckWarns: "rules check --no-replay" names a lock a stranger
// can set off, and the file stays valid.
func TestRulesCheckWarns(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rules.yaml")
	rules := `version: "2026-07-08.1"
rules:
  - id: failures-lock
    on: [signin.failure]
    when: 'count("signin.failure", "1h") >= 5'
    action: lock
  - id: gift-card
    on: [purchase]
    when: 'sum("purchase.amount", "24h", {"instrument": "gift_card"}) >= 50000'
    action: lock
`
	if err := os.WriteFile(file, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"rules", "check", file, "--no-replay"}, strings.NewReader(""), &out, &out,
		func(string) string { return "" })
	if err != nil {
		t.Fatalf("rules check: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{"valid, version 2026-07-08.1, 2 rules",
		"warning: rule failures-lock [lock.stranger_signals]: action lock on signals a stranger makes", "verify_phone"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "warning:"); n != 1 || strings.Contains(got, "gift-card") {
		t.Errorf("want one warning, for failures-lock only:\n%s", got)
	}
}
