package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/clocktest"
)

// j3Rules: gift-card purchases over ¥50,000 a day lock the account for a
// day, unlockable by a code to the verified phone; an address mismatch
// locks it until support has looked.
const j3Rules = `
version: "2026-11-01.1"
rules:
  - id: gift-card-50k
    on: [purchase]
    when: 'sum("purchase.amount", "24h", {"instrument": "gift_card"}) >= 50000'
    action: lock
    duration: 24h
    category: payment
    ways_out: [code, support]
  - id: address-mismatch
    on: [address_mismatch]
    when: 'count("address_mismatch", "24h") >= 1'
    action: lock_review
    category: account_details
`

// TestJ3RiskLock is journey J3, part 1 (seed 002): host-app signals trip a
// gift-card rule; the person sees the lock page with the reason (the
// category, not the rule) and the ways out; unlocks it with a code to the
// phone; a rule that needs review shows only the support path, reachable
// without signing in.
func TestJ3RiskLock(t *testing.T) {
	clock := clocktest.New(time.Now().UTC().Truncate(time.Second))
	srv := startServerWith(t, clock, withRules(t, j3Rules))
	key, _, err := srv.Keys.Create(t.Context(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	gifty := newRiskPerson(t, srv, "gifty", "gifty@example.jp", "090-2222-3333", "+819022223333")
	mism := newRiskPerson(t, srv, "mism", "mism@example.jp", "090-4444-5555", "+819044445555")

	// Three gift cards of ¥20,000 in an afternoon: the third trips the rule.
	var res []any
	for i := range 3 {
		clock.Advance(20 * time.Minute)
		res = sendSignals(t, srv, key, []map[string]any{{"account_id": gifty.id, "type": "purchase", "amount": 20000,
			"currency": "JPY", "instrument": "gift_card", "ip": "203.0.113.7", "device_id": "shop-app-1"}})
		want := "allow"
		if i == 2 {
			want = "lock"
		}
		if got := res[0].(map[string]any)["action"]; got != want {
			t.Fatalf("purchase %d: action %v, want %s", i+1, got, want)
		}
	}

	b, a := startBrowser(t, srv.URL)
	signInLocked(a, srv, gifty)
	a.expectPage("/locked", "ja", "アカウントを一時的にロックしました")
	expectText(t, a, "#lock-reason", "いつもと違うお支払い")
	expectText(t, a, "#way-code", "電話にコードを送る")
	expectText(t, a, "#ways-out", "090-****-3333")
	expectText(t, a, "#way-support", "サポートに連絡する")
	if href := a.eval(`document.querySelector("#way-support").getAttribute("href")`); href != "/support/new?category=locked" {
		t.Errorf("support link = %q", href)
	}
	if n := a.count("#way-password, #way-reset"); n != 0 {
		t.Errorf("the lock page offers %d ways the rule does not allow", n)
	}
	if txt := a.text("main"); strings.Contains(txt, "gift-card-50k") || strings.Contains(txt, "2026-11-01") {
		t.Errorf("the lock page shows rule internals: %q", txt)
	}
	a.shot("locked-gift-card-ja")
	a.open("/locked?lang=en")
	a.expectPage("/locked", "en", "Your account is temporarily locked")
	expectText(t, a, "#lock-reason", "unusual payments")
	a.shot("locked-gift-card-en")
	a.open("/locked?lang=ja")

	// Everything else sends the locked session back to the lock page.
	a.open("/account")
	a.expectPage("/locked", "ja", "アカウントを一時的にロックしました")

	// A few minutes later, the way out: a code to the verified phone.
	clock.Advance(3 * time.Minute)
	a.follow("#way-code")
	a.expectPage(a.eval("location.pathname"), "ja", "コードを入力してロックを解除")
	sc := &codesScenario{t: t, srv: srv}
	unlock := waitPurpose(sc, gifty.phoneE164, string(monban.PurposeUnlock))
	a.shot("unlock-code")
	a.fill("#code", unlock.Code)
	a.follow("#verify")
	a.expectPage("/account", "ja", "アカウント")
	expectText(t, a, "#notice", "ロックを解除しました")
	a.shot("unlocked-account")

	// The lock and the unlock are both in the message center, with references.
	ns, _, err := srv.DB.NoticesByAccount(t.Context(), gifty.id, 10)
	var topics []string
	for _, n := range ns {
		if n.Topic == monban.TopicAccountLocked || n.Topic == monban.TopicAccountUnlocked {
			topics = append(topics, n.Topic)
		}
	}
	if err != nil || strings.Join(topics, ",") != monban.TopicAccountUnlocked+","+monban.TopicAccountLocked {
		t.Fatalf("lock notices = %v (%v); want the lock and then the unlock", topics, err)
	}
	locks, _ := srv.DB.LocksByAccount(t.Context(), gifty.id)
	if len(locks) != 1 || locks[0].RuleID != "gift-card-50k" || locks[0].RuleVersion != "2026-11-01.1" ||
		locks[0].LiftedBy != "person" || locks[0].LiftedHow != "code" {
		t.Fatalf("lock record = %+v", locks)
	}

	// A rule that needs review: only support, which works without signing in.
	res = sendSignals(t, srv, key, []map[string]any{{"account_id": mism.id, "type": "address_mismatch"}})
	if got := res[0].(map[string]any)["action"]; got != "lock_review" {
		t.Fatalf("address mismatch: action %v", got)
	}
	c := b.newIsolatedTab("review")
	signInLocked(c, srv, mism)
	c.expectPage("/locked", "ja", "確認が済むまでアカウントをロックしています")
	expectText(t, c, "#lock-reason", "アカウントの情報が一致しませんでした")
	expectText(t, c, "#way-support", "サポートに連絡する")
	expectText(t, c, "#ways-out", "ログイン不要")
	if n := c.count("#way-code, #way-password, #way-reset, #way-second"); n != 0 {
		t.Errorf("a review lock offers %d self-service ways", n)
	}
	c.shot("locked-review-support-only")

	// The host app sees the lock in the session check.
	who := postJSON(t, srv, "/api/v1/introspect", key, map[string]any{"token": mism.token}, http.StatusOK)
	lock, _ := who["lock"].(map[string]any)
	if who["locked"] != true || lock["category"] != "account_details" || lock["kind"] != "lock_review" {
		t.Errorf("introspection = %v, want the lock", who)
	}

	// The app session is refused everywhere but the lock, which explains itself.
	expectAPI(t, srv, "GET", "/api/v1/sessions", mism.token, http.StatusForbidden, "account.locked")
	expectAPI(t, srv, "GET", "/api/v1/lock", mism.token, http.StatusOK, "いますぐ連絡できます")
}

// expectAPI sends a request with a bearer token and checks the status and
// that the body mentions want.
func expectAPI(t *testing.T, srv *server, method, path, bearer string, status int, want string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Accept-Language", "ja")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || !strings.Contains(string(b), want) {
		t.Errorf("%s %s: %d %s, want %d mentioning %q", method, path, resp.StatusCode, b, status, want)
	}
}
