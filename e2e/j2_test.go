package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/clocktest"
	"github.com/monban-dev/monban/internal/webhooks"
)

// TestJ2Transfer is journey J2 (seed 001) in Chromium: a new phone, the old
// one lost. The person mistypes the registered number (090 for 080) and
// sees it shown back before anything is sent; the transfer SMS fails; the
// PC where they are still signed in approves, and the account moves. Then
// the variant without any other signed-in device: the daily attempt limit
// is reached and names its reset time, the person appeals through
// /support/new, an agent grants the 48-hour bypass of the transfer code,
// the person completes the transfer, and the host app's webhook receiver
// gets a signed account.transferred naming the new device. Time moves by
// the fake clock.
func TestJ2Transfer(t *testing.T) {
	clock := clocktest.New(time.Now().UTC().Truncate(time.Second))
	srv := startServerAt(t, clock)
	b, pc := startBrowser(t, srv.URL)
	j := &j2{t: t, srv: srv, clock: clock, b: b, pc: pc}
	j.receiver = newHookReceiver(t, srv, clock)
	j.p = newRiskPerson(t, srv, "katsuo", "katsuo@example.jp", "080-1234-5678", "+818012345678")
	signInLocked(pc, srv, j.p) // the PC, signed in with a code to the phone
	pc.expectPage("/account", "ja", "アカウント")
	pc.shot("pc-signed-in")
	// Tabs live as long as the test, not one subtest.
	j.phone, j.phone2 = b.newIsolatedTab("new-phone"), b.newIsolatedTab("new-phone-2")

	for _, step := range []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"old_phone_lost", j.oldPhoneLost},
		{"mistyped_number", j.mistypedNumber},
		{"transfer_sms_fails", j.smsFails},
		{"pc_approves", j.pcApproves},
		{"no_other_session_limit", j.limitReached},
		{"appeal", j.appeal},
		{"agent_grants_bypass", j.grant},
		{"completes_with_bypass", j.completeWithGrant},
		{"webhook_arrives", j.webhookArrives},
	} {
		if !t.Run(step.name, j.in(step.fn)) {
			break
		}
	}
	t.Logf("screenshots in e2e/%s", b.dir)
}

const (
	j2Ways  = "引き継ぎの確認"
	j2Phone = "電話番号の確認"
)

type j2 struct {
	t        *testing.T
	srv      *server
	clock    *clocktest.Clock
	b        *browser
	pc       *tab
	phone    *tab // the new phone
	p        riskPerson
	p2       riskPerson // the variant: no other signed-in device
	phone2   *tab
	receiver *hookReceiver
}

func (j *j2) in(fn func(t *testing.T)) func(t *testing.T) {
	return func(t *testing.T) {
		parent := j.b.t
		j.b.t, j.t = t, t
		defer func() { j.b.t, j.t = parent, parent }()
		fn(t)
	}
}

// startLost begins a transfer without the old device on a fresh phone.
func (j *j2) startLost(tb *tab, username string) {
	tb.open("/transfer")
	tb.expectPage("/transfer", "ja", "新しい端末への引き継ぎ")
	tb.shot("transfer-choice")
	tb.follow("#lost-phone")
	tb.expectPage("/transfer/start", "ja", "元の端末なしで引き継ぐ")
	tb.fill("#identifier", username)
	tb.fill("#password", passphrase)
	tb.follow("#submit")
	tb.expectPage("/transfer/phone", "ja", j2Phone)
}

func (j *j2) oldPhoneLost(t *testing.T) {
	// The password alone gets nowhere near the account.
	j.startLost(j.phone, j.p.username)
	expectText(t, j.phone, "#registered", "080-****-5678")
	j.phone.shot("registered-number-masked")
	j.phone.open("/transfer/ways")
	j.phone.expectPage("/transfer/phone", "ja", j2Phone)
}

func (j *j2) mistypedNumber(t *testing.T) {
	ph := j.phone
	ph.fill("#phone", "090-1234-5678")
	ph.follow("#check-phone")
	ph.expectPage("/transfer/phone", "ja", j2Phone)
	expectText(t, ph, "#typed", "090-1234-5678")
	expectText(t, ph, "#phone-mismatch", "何も送信していません")
	if n := ph.count("#confirm-phone"); n != 0 {
		t.Errorf("a number that is not the registered one can be confirmed")
	}
	ph.shot("typo-shown-back")
	sc := &codesScenario{t: t, srv: j.srv}
	if msgs := sc.outboxTo("+819012345678"); len(msgs) != 0 {
		t.Fatalf("the mistyped number (a stranger's) got %d messages", len(msgs))
	}
	ph.fill("#phone", "08012345678")
	ph.follow("#check-phone")
	expectText(t, ph, "#typed", "080-1234-5678")
	expectText(t, ph, "#phone-match", "一致しました")
	ph.shot("corrected-shown-back")
	ph.follow("#confirm-phone")
	ph.expectPage("/transfer/ways", "ja", j2Ways)
	expectText(t, ph, "#way-approval", "ログイン中のほかの端末")
	ph.shot("ways")
}

func (j *j2) smsFails(t *testing.T) {
	ph := j.phone
	ph.follow("#send-sms")
	ph.expectPage("/transfer/ways", "ja", j2Ways)
	expectText(t, ph, "#sent-to", "080-****-5678")
	sc := &codesScenario{t: t, srv: j.srv}
	msg := waitPurpose(sc, j.p.phoneE164, string(monban.PurposeTransfer))
	ph.shot("transfer-code-sent")
	ph.open("/dev/outbox")
	ph.follow(fmt.Sprintf(`#outbox tr.msg[data-id=%q] button.fail`, msg.ID))
	ph.shot("dev-outbox-sms-failed")
	ph.open("/transfer/ways")
	expectText(t, ph, "#delivery-status", "配達できませんでした")
	expectText(t, ph, "#not-delivered", "コードが届いていません")
	ph.shot("transfer-sms-failed")
}

func (j *j2) pcApproves(t *testing.T) {
	ph := j.phone
	ph.open("/transfer/ways") // the waiting box polls from here on
	j.pc.open("/account")
	j.pc.do("wait for the prompt", chromedp.WaitVisible(chromedp.CSS("#approvals [data-prompt]")))
	expectText(t, j.pc, "#approvals", "新しい端末")
	j.pc.shot("pc-sees-transfer-prompt")
	j.pc.follow("#approvals [data-prompt] button.approve")
	j.pc.expectPage("/account/security", "ja", "セキュリティと2段階認証")
	j.pc.shot("pc-approved")

	ph.do("the waiting page goes on", chromedp.WaitVisible(chromedp.CSS("#identifiers")))
	ph.expectPage("/account", "ja", "アカウント")
	expectText(t, ph, "#notice", "この端末に引き継ぎました")
	ph.shot("moved-to-new-phone")
	// The old phone's app session ended; the PC that approved stays.
	live := expectSessions(t, j.srv, j.p.id, 2)
	for _, s := range live {
		if s.Kind == monban.SessionApp {
			t.Errorf("the lost phone's app session %s is still live", s.ID)
		}
	}
	expectAPI(t, j.srv, http.MethodGet, "/api/v1/account", j.p.token, http.StatusUnauthorized, "")
}

func (j *j2) limitReached(t *testing.T) {
	j.p2 = newRiskPerson(t, j.srv, "katsuo2", "katsuo2@example.jp", "080-2222-3333", "+818022223333")
	signOutApp(t, j.srv, j.p2.token) // the lost phone: no other session remains
	ph := j.phone2
	j.startLost(ph, j.p2.username)
	ph.fill("#phone", "080-2222-3333")
	ph.follow("#check-phone")
	ph.follow("#confirm-phone")
	ph.expectPage("/transfer/ways", "ja", j2Ways)
	if n := ph.count("#no-sessions"); n != 1 {
		t.Errorf("the ways page offers an approval with no other signed-in device")
	}
	sc := &codesScenario{t: t, srv: j.srv}
	first := j.clock.Now() // the limit rolls: allowed again 24 h after the first send (to the minute)
	for i := 1; i <= 3; i++ {
		ph.follow("#send-sms")
		sc.waitOutbox(j.p2.phoneE164, i+1) // the sign-up's verification code, then the transfer codes
		j.clock.Advance(31 * time.Second)
		ph.open("/transfer/ways")
	}
	reset := first.Truncate(time.Minute).Add(24 * time.Hour)
	want := reset.In(jst).Format("1月2日 15:04") // another day: the date, then the time
	expectText(t, ph, "#limit", want+" からもう一度")
	if ph.eval(`String(document.querySelector("#send-sms").disabled)`) != "true" {
		t.Errorf("the send button stays enabled past the limit")
	}
	ph.shot("attempt-limit-reset-time")
}

func (j *j2) appeal(t *testing.T) {
	ph := j.phone2
	ph.follow("#support-link")
	if path := ph.eval("location.pathname + location.search"); path != "/support/new?category=transfer" {
		t.Fatalf("support link leads to %s", path)
	}
	ref := fileAppeal(t, ph, j.p2.username, "katsuo2@example.jp", "機種変更で引き継ぎ認証番号のSMSが届きません。回数制限に達しました。")
	ph.shot("appeal-filed")
	t.Logf("case %s", ref)
}

func (j *j2) grant(t *testing.T) {
	hash, err := j.srv.Hasher.Hash(t.Context(), passphrase)
	if err != nil {
		t.Fatal(err)
	}
	lead := &monban.Agent{ID: monban.NewID("agt"), Username: "lead_j2", PasswordHash: hash, Role: monban.RoleLead, CreatedAt: j.clock.Now()}
	g, err := j.srv.Desk.Grants.Create(t.Context(), lead, j.p2.id, monban.GrantTransferCode, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.ExpiresAt.Sub(g.CreatedAt); got != 48*time.Hour {
		t.Errorf("grant window %v, want 48h", got)
	}
	j.clock.Advance(time.Hour) // the next morning, as it were
}

func (j *j2) completeWithGrant(t *testing.T) {
	ph := j.phone2
	// The first transfer has expired meanwhile: start again.
	ph.open("/transfer/ways")
	ph.expectPage("/transfer/ways", "ja", "元の端末なしで引き継ぐ")
	expectText(t, ph, "#error", "有効期限")
	ph.fill("#identifier", j.p2.username)
	ph.fill("#password", passphrase)
	ph.follow("#submit")
	ph.fill("#phone", "080-2222-3333")
	ph.follow("#check-phone")
	ph.follow("#confirm-phone")
	ph.expectPage("/transfer/ways", "ja", j2Ways)
	expectText(t, ph, "#grant-window", "残り 47時間0分")
	ph.shot("bypass-window-shown")
	ph.follow("#use-grant")
	ph.expectPage("/account", "ja", "アカウント")
	expectText(t, ph, "#notice", "この端末に引き継ぎました")
	ph.shot("moved-with-bypass")
	// Once only.
	gs, err := j.srv.DB.GrantsByAccount(t.Context(), j.p2.id, j.clock.Now())
	if err != nil || len(gs) != 0 {
		t.Errorf("usable grants after the transfer: %v %v", gs, err)
	}
}

func (j *j2) webhookArrives(t *testing.T) {
	if _, err := j.srv.DeliverWebhooks(t.Context()); err != nil {
		t.Fatal(err)
	}
	evs := j.receiver.events()
	var got []map[string]any
	for _, ev := range evs {
		if ev["type"] == monban.EventAccountTransferred {
			got = append(got, ev)
		}
	}
	if len(got) != 2 {
		t.Fatalf("account.transferred events at the receiver: %d, want 2 (%v)", len(got), evs)
	}
	last := got[len(got)-1]
	data, _ := last["data"].(map[string]any)
	if last["account_id"] != j.p2.id || data["method"] != monban.TransferByGrant || data["device_id"] == "" {
		t.Errorf("webhook %v: want katsuo2's transfer by grant naming the new device", last)
	}
	id, _ := data["transfer_id"].(string)
	out := getJSON(t, j.srv, "/api/v1/transfers/"+id, j.receiver.key)
	if out["state"] != "completed" || out["device_id"] != data["device_id"] {
		t.Errorf("GET /api/v1/transfers/%s = %v", id, out)
	}
}

// hookReceiver is the host app's webhook endpoint: it verifies every
// request's signature with the subscription's secret on the node's clock.
type hookReceiver struct {
	t      *testing.T
	clock  *clocktest.Clock
	secret []byte
	key    string
	mu     sync.Mutex
	got    []map[string]any
}

func newHookReceiver(t *testing.T, srv *server, clock *clocktest.Clock) *hookReceiver {
	t.Helper()
	rc := &hookReceiver{t: t, clock: clock}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get(webhooks.HeaderID)
		if err := webhooks.Verify(rc.secret, id, r.Header.Get(webhooks.HeaderTimestamp), r.Header.Get(webhooks.HeaderSignature),
			body, rc.clock.Now(), webhooks.ReplayWindow); err != nil {
			t.Errorf("webhook %s: signature: %v", id, err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ev map[string]any
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		rc.mu.Lock()
		rc.got = append(rc.got, ev)
		rc.mu.Unlock()
	}))
	t.Cleanup(hs.Close)
	key, k, err := srv.Keys.Create(t.Context(), "messenger")
	if err != nil {
		t.Fatal(err)
	}
	rc.key = key
	_, secret, err := srv.Webhooks.Subscribe(t.Context(), k.ID, hs.URL+"/hooks", []string{monban.EventAccountTransferred})
	if err != nil {
		t.Fatal(err)
	}
	rc.secret = secret
	return rc
}

func (rc *hookReceiver) events() []map[string]any {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]map[string]any(nil), rc.got...)
}

// signOutApp ends an app session through the API.
func signOutApp(t *testing.T, srv *server, token string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodDelete, srv.URL+"/api/v1/session", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("sign out: %s", resp.Status)
	}
}

// getJSON reads path with a bearer token.
func getJSON(t *testing.T, srv *server, path, bearer string) map[string]any {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", path, resp.StatusCode, out)
	}
	return out
}

// TestJ2BindingCode is the path with the old device at hand, in two browser
// contexts: the old phone shows a one-time code and QR code after the
// password; the new phone types the code (a wrong one first) and takes the
// account; the old phone's page sees the move and its session is over.
func TestJ2BindingCode(t *testing.T) {
	clock := clocktest.New(time.Now().UTC().Truncate(time.Second))
	srv := startServerAt(t, clock)
	b, old := startBrowser(t, srv.URL)
	p := newRiskPerson(t, srv, "katsuo3", "katsuo3@example.jp", "080-4444-5555", "+818044445555")
	signInLocked(old, srv, p)
	old.expectPage("/account", "ja", "アカウント")

	old.open("/transfer")
	old.follow("#show-code")
	old.expectPage("/transfer/offer", "ja", "新しい端末に引き継ぐ")
	old.fill("#password", passphrase)
	old.follow("#show")
	code := old.text("#binding-code")
	if _, ok := monban.ParseBindingCode(code); !ok || len(code) != 11 {
		t.Fatalf("binding code %q, want XXXXX-XXXXX", code)
	}
	if n := old.count("#transfer-qr"); n != 1 {
		t.Errorf("no QR code on the old phone")
	}
	expectText(t, old, "#offer-until", "10分間")
	old.shot("old-phone-shows-code")

	nw := b.newIsolatedTab("new")
	nw.open("/transfer")
	nw.follow("#enter-code")
	nw.expectPage("/transfer/receive", "ja", "アカウントを受け取る")
	nw.fill("#code", "ZZZZZ-ZZZZZ")
	nw.follow("#receive")
	expectText(t, nw, "#error", "コードが正しくありません")
	nw.shot("wrong-code")
	nw.fill("#code", strings.ToLower(strings.ReplaceAll(code, "-", "")))
	nw.shot("code-typed")
	nw.follow("#receive")
	nw.expectPage("/account", "ja", "アカウント")
	expectText(t, nw, "#notice", "この端末に引き継ぎました")
	nw.shot("new-phone-has-account")

	old.do("the old phone sees the move", chromedp.WaitVisible(chromedp.CSS(`#offer[data-state="completed"]`)))
	expectText(t, old, "#offer-state", "新しい端末に引き継ぎました")
	old.shot("old-phone-told")
	old.open("/account")
	if path, _ := old.page(); path != "/signin" {
		t.Errorf("the old phone still reaches %s", path)
	}
	// The new phone and the app session made at sign-up remain; the old
	// phone's browser session is gone.
	for _, s := range expectSessions(t, srv, p.id, 2) {
		if s.Kind == monban.SessionWeb && s.UserAgent != "" && s.CreatedAt.Before(clock.Now()) && s.Methods[0] != monban.TransferByBindingCode {
			t.Errorf("a web session other than the new phone's is live: %+v", s)
		}
	}
	// The code worked once.
	nw2 := b.newIsolatedTab("third")
	nw2.open("/transfer/receive")
	nw2.fill("#code", code)
	nw2.follow("#receive")
	expectText(t, nw2, "#error", "使用済み")
	nw2.shot("code-used")
	t.Logf("screenshots in e2e/%s", b.dir)
}
