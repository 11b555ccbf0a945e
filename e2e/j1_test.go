package e2e

import (
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/clocktest"
)

const j1Rules = `
version: "2026-11-01.1"
rules:
  - id: follow-burst
    on: [follow]
    when: 'count("follow", "1h") > 20'
    action: step_up
    step_up: verify_phone
    category: unusual_activity
`

// TestJ1FollowBurst is journey J1, part 1 (seed 000): a burst of follows
// reported by the host app makes the signed-in person "verify your phone";
// they get a code on the phone the page names, enter it and carry on where
// they were.
func TestJ1FollowBurst(t *testing.T) {
	clock := clocktest.New(time.Now().UTC().Truncate(time.Second))
	srv := startServerWith(t, clock, withRules(t, j1Rules))
	key, _, err := srv.Keys.Create(t.Context(), "social")
	if err != nil {
		t.Fatal(err)
	}
	p := newRiskPerson(t, srv, "follower", "follower@example.jp", "080-6666-7777", "+818066667777")

	_, a := startBrowser(t, srv.URL)
	signInLocked(a, srv, p)
	a.expectPage("/account", "ja", "アカウント")

	// 25 follows in ten minutes, sent in one batch.
	var sigs []map[string]any
	for i := range 25 {
		sigs = append(sigs, map[string]any{"account_id": p.id, "type": "follow",
			"at": clock.Now().Add(time.Duration(i-25) * 20 * time.Second).Format(time.RFC3339)})
	}
	res := sendSignals(t, srv, key, sigs)
	if got := res[20].(map[string]any)["action"]; got != "step_up" {
		t.Fatalf("the 21st follow: action %v, want step_up", got)
	}

	// The next page the person opens asks them to verify their phone.
	a.open("/account")
	a.expectPage("/locked", "ja", "ご本人の確認をお願いします")
	expectText(t, a, "#lock-what", "すぐに続けられます")
	expectText(t, a, "#ways-out", "080-****-7777")
	a.shot("verify-your-phone")

	a.follow("#way-code")
	a.expectPage(a.eval("location.pathname"), "ja", "コードを入力してロックを解除")
	expectText(t, a, "#sent-to", "080-****-7777")
	sc := &codesScenario{t: t, srv: srv}
	unlock := waitPurpose(sc, p.phoneE164, string(monban.PurposeUnlock))
	a.shot("code-sent")
	// A wrong code first: told so, still locked.
	a.fill("#code", wrongCode([]devMessage{unlock}))
	a.follow("#verify")
	if n := a.count("#error"); n != 1 {
		t.Errorf("a wrong code shows %d errors, want 1", n)
	}
	a.shot("wrong-code")
	a.fill("#code", unlock.Code)
	a.follow("#verify")
	a.expectPage("/account", "ja", "アカウント")
	expectText(t, a, "#notice", "ロックを解除しました")
	a.shot("continues")

	// The next follows are judged afresh from here on: the burst is in the
	// past hour, so the rule would fire again — but it fired and was
	// answered; a new lock needs a new signal, and an hour later the window
	// is clear.
	clock.Advance(2 * time.Hour)
	res = sendSignals(t, srv, key, []map[string]any{{"account_id": p.id, "type": "follow"}})
	if got := res[0].(map[string]any)["action"]; got != "allow" {
		t.Errorf("a follow two hours later: action %v, want allow", got)
	}
	a.open("/account")
	a.expectPage("/account", "ja", "アカウント")
}
