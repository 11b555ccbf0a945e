package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/clocktest"
)

// TestJ3ReviewLockSupportUnlock is journey J3 to its end (seed 002): a rule
// that needs review locks the account; the person files a request from a
// browser that is not signed in; the shop has told monban what it knows
// (name, card); an agent checks what the caller says — a wrong name is no
// match, the right answers match, and the agent never sees the stored
// values — and unlocks; the person signs in.
func TestJ3ReviewLockSupportUnlock(t *testing.T) {
	clock := clocktest.New(time.Now().UTC().Truncate(time.Second))
	srv := startServerWith(t, clock, withRules(t, j3Rules))
	key, _, err := srv.Keys.Create(t.Context(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	p := newRiskPerson(t, srv, "reviewed", "reviewed@example.jp", "090-7777-1234", "+819077771234")
	putKnowledge(t, srv, key, p.id, map[string]string{"name": "山田 花子", "card_last4": "4242", "card_expiry": "08/2029"})

	res := sendSignals(t, srv, key, []map[string]any{{"account_id": p.id, "type": "address_mismatch"}})
	if got := res[0].(map[string]any)["action"]; got != "lock_review" {
		t.Fatalf("address mismatch: action %v", got)
	}
	b, a := startBrowser(t, srv.URL)
	signInLocked(a, srv, p)
	a.expectPage("/locked", "ja", "確認が済むまでアカウントをロックしています")
	a.shot("locked-review")

	// Another browser, never signed in (the family PC): the request form is open.
	pc := b.newIsolatedTab("pc")
	pc.open("/support/new?category=locked")
	if n := pc.count("#signout"); n != 0 {
		t.Fatal("the support form's browser is signed in")
	}
	ref := fileAppeal(t, pc, "reviewed@example.jp", "hanako.yamada@example.jp", "住所を引っ越しで変えただけです。ロックを解除してください。")
	expectText(t, pc, "#filed-text", "受付番号は "+ref)
	pc.shot("request-received")

	// The agent, on a phone this time: the console must work there too.
	ag := b.newIsolatedTab("agent")
	deskSignIn(t, srv, clock, ag, "kato", monban.RoleAgent)
	ag.follow(fmt.Sprintf(`#queue tr.case-row[data-ref=%q] a`, ref))
	ag.expectPage(ag.eval("location.pathname"), "ja", "お問い合わせ "+ref)
	expectText(t, ag, "#lock-rule", "address-mismatch")
	expectText(t, ag, "#checklist", "氏名")
	ag.shot("case-with-checklist")

	// The caller gets the name wrong: no match.
	ag.fill("#chk-name", "山田 太郎")
	ag.follow("#check-submit")
	expectCheck(t, ag, "name", false)
	ag.shot("check-no-match")
	// Then the right answers, typed as a caller says them.
	ag.fill("#chk-name", "山田花子")
	ag.fill("#chk-card_last4", "４２４２")
	ag.fill("#chk-card_expiry", "8/29")
	ag.follow("#check-submit")
	expectCheck(t, ag, "name", true)
	expectCheck(t, ag, "card_last4", true)
	expectCheck(t, ag, "card_expiry", true)
	if txt := ag.text("main"); strings.Contains(txt, "4242") || strings.Contains(txt, "2029") {
		t.Errorf("the case page shows a stored value: %q", txt)
	}
	ag.shot("check-match")

	ag.follow("#lift-lock")
	expectText(t, ag, "#notice", "ロックを解除し、本人に通知しました")
	ag.shot("unlocked")
	agent, _ := srv.DB.AgentByUsername(t.Context(), "kato")
	expectAudit(t, srv, p.id, agent.ID, monban.AuditIdentityChecked, monban.AuditDeskLockLifted)
	checks, _ := srv.DB.IdentityChecks(t.Context(), caseIDOf(t, srv, p.id))
	var matched, failed int
	for _, c := range checks {
		if c.Matched {
			matched++
		} else {
			failed++
		}
	}
	if matched != 3 || failed != 1 {
		t.Errorf("identity checks recorded: %d matched, %d failed; want 3 and 1", matched, failed)
	}

	// The person signs in and is in.
	a.open("/account")
	a.expectPage("/account", "ja", "アカウント")
	a.follow("#signout")
	signInLocked(a, srv, p)
	a.expectPage("/account", "ja", "アカウント")
	a.shot("signed-in")
	t.Logf("screenshots in e2e/%s", b.dir)
}

// putKnowledge is the host app telling monban what it knows about an
// account, with its API key.
func putKnowledge(t *testing.T, srv *server, key, accountID string, fields map[string]string) {
	t.Helper()
	body, _ := json.Marshal(fields)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, srv.URL+"/api/v1/accounts/"+accountID+"/knowledge", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT knowledge: %s", resp.Status)
	}
}

// expectCheck fails unless the checklist's last result for field is matched.
func expectCheck(t *testing.T, tb *tab, field string, matched bool) {
	t.Helper()
	sel := fmt.Sprintf(`#check-results li.check[data-field=%q]`, field)
	if got := tb.eval(`(document.querySelector(` + jsString(sel) + `) || {dataset: {}}).dataset.matched || ""`); got != fmt.Sprint(matched) {
		t.Errorf("check %s: matched=%q, want %v", field, got, matched)
	}
	want := "不一致"
	if matched {
		want = "一致"
	}
	expectText(t, tb, sel, want)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// caseIDOf returns the id of the account's one case.
func caseIDOf(t *testing.T, srv *server, accountID string) string {
	t.Helper()
	cs, err := srv.DB.CasesByAccount(t.Context(), accountID)
	if err != nil || len(cs) != 1 {
		t.Fatalf("cases of %s: %v, %v", accountID, cs, err)
	}
	return cs[0].ID
}
