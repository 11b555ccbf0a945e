package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/clocktest"
)

// TestJ1LockAppealMergeUnlock is journey J1 to its end (seed 000): a follow
// burst asks the person to verify their phone; the SMS fails; they appeal
// from the lock page without an account page to sign in to; a second
// appeal a day later joins the open case and says so; an agent signs in to
// the console with the mandatory authenticator, sees the failed SMS and
// the follows that caused the lock, and lifts it; the person is told and
// signs in.
func TestJ1LockAppealMergeUnlock(t *testing.T) {
	clock := clocktest.New(time.Now().UTC().Truncate(time.Second))
	srv := startServerWith(t, clock, withRules(t, j1Rules))
	key, _, err := srv.Keys.Create(t.Context(), "social")
	if err != nil {
		t.Fatal(err)
	}
	p := newRiskPerson(t, srv, "appealer", "appealer@example.jp", "080-5555-1212", "+818055551212")
	b, a := startBrowser(t, srv.URL)
	signInLocked(a, srv, p)
	a.expectPage("/account", "ja", "アカウント")

	var sigs []map[string]any
	for i := range 25 {
		sigs = append(sigs, map[string]any{"account_id": p.id, "type": "follow",
			"at": clock.Now().Add(time.Duration(i-25) * 20 * time.Second).Format(time.RFC3339)})
	}
	sendSignals(t, srv, key, sigs)
	a.open("/account")
	a.expectPage("/locked", "ja", "ご本人の確認をお願いします")

	// The code goes out, and the carrier reports it failed.
	a.follow("#way-code")
	sc := &codesScenario{t: t, srv: srv}
	sms := waitPurpose(sc, p.phoneE164, string(monban.PurposeUnlock))
	a.open("/dev/outbox")
	a.follow(fmt.Sprintf(`#outbox tr.msg[data-id=%q] button.fail`, sms.ID))
	for _, m := range sc.outboxTo(p.phoneE164) {
		if m.ID == sms.ID && m.Status != monban.MessageFailed {
			t.Fatalf("unlock SMS status after the failure report = %q", m.Status)
		}
	}
	a.shot("sms-failed")

	// The appeal, from the lock page.
	a.open("/locked")
	a.follow("#way-support")
	if path := a.eval("location.pathname + location.search"); path != "/support/new?category=locked" {
		t.Fatalf("the lock page's support link leads to %s", path)
	}
	if got := a.value("#category"); got != monban.CaseLocked {
		t.Errorf("category preselected = %q, want locked", got)
	}
	ref := fileAppeal(t, a, "appealer", "appealer.home@example.jp", "SMS のコードが届きません。電話番号は合っています。")
	expectText(t, a, "#filed-text", "受付番号は "+ref)
	a.shot("appeal-received")

	// A day later, nothing heard: the person appeals again.
	clock.Advance(24 * time.Hour)
	a.open("/support/new?category=locked")
	again := fileAppeal(t, a, "@appealer", "appealer.home@example.jp", "まだロックされたままです。")
	if again != ref || a.eval(`document.querySelector("#filed").dataset.merged`) != "true" {
		t.Fatalf("second appeal: ref %s (first %s), merged=%s", again, ref, a.eval(`document.querySelector("#filed").dataset.merged`))
	}
	expectText(t, a, "#filed-text", "受付番号 "+ref+" に追記しました")
	a.shot("appeal-merged")
	mails := mailsTo(t, srv, "appealer.home@example.jp", "desk.case")
	if len(mails) != 2 || !strings.Contains(mails[0].Body, ref) {
		t.Errorf("case mails to the contact = %d (%v), want 2 naming %s", len(mails), mails, ref)
	}

	// The agent, at a desk: a desktop-sized window.
	ag := b.newIsolatedTab("agent")
	ag.do("desktop window", chromedp.EmulateViewport(1280, 900))
	deskSignIn(t, srv, clock, ag, "suzuki", monban.RoleAgent)
	row := fmt.Sprintf(`#queue tr.case-row[data-ref=%q]`, ref)
	if got := ag.text(row); !strings.Contains(got, "2") {
		t.Errorf("queue row = %q, want two requests", got)
	}
	ag.shot("queue")
	ag.follow(row + " a")
	ag.expectPage(ag.eval("location.pathname"), "ja", "お問い合わせ "+ref)
	if n := ag.count(`#messages tr.message[data-status="failed"]`); n != 1 {
		t.Errorf("case page shows %d failed messages, want the unlock SMS", n)
	}
	if got := ag.text(`#messages tr.message[data-status="failed"]`); !strings.Contains(got, "080-****-1212") ||
		!strings.Contains(got, "配達できませんでした") || !strings.Contains(got, "確認コード（ロックの解除）") {
		t.Errorf("failed message row = %q, want the masked phone, the code's purpose and its status in words", got)
	}
	// The lock's evidence as a table, the rule's condition as written.
	if got := ag.text("#lock-evidence"); !strings.Contains(got, "フォロー") || !strings.Contains(got, `count("follow"`) {
		t.Errorf("lock evidence = %q, want the signal in words and the rule's condition", got)
	}
	if n := ag.count(`#signals tr.signal`); n != 25 {
		t.Errorf("case page shows %d signals, want the 25 follows", n)
	}
	expectText(t, ag, "#lock-rule", "follow-burst")
	if n := ag.count("#thread li.msg-request"); n != 2 {
		t.Errorf("thread holds %d requests, want 2", n)
	}
	if strings.Contains(ag.text("main"), "$argon2") {
		t.Error("the case page shows a password hash")
	}
	ag.shot("case-failed-sms-and-signals")
	ag.follow("#lift-lock")
	expectText(t, ag, "#notice", "ロックを解除し、本人に通知しました")
	if n := ag.count("#active-lock, #lift-lock"); n != 0 {
		t.Errorf("after the lift the case page still shows the lock (%d)", n)
	}
	ag.shot("lock-lifted")
	agent, _ := srv.DB.AgentByUsername(t.Context(), "suzuki")
	locks, _ := srv.DB.LocksByAccount(t.Context(), p.id)
	if len(locks) != 1 || locks[0].LiftedBy != "agent:"+agent.ID || locks[0].LiftedHow != "support" {
		t.Fatalf("lock record = %+v", locks)
	}
	expectAudit(t, srv, p.id, agent.ID, monban.AuditCaseViewed, monban.AuditDeskLockLifted)

	// The person is told (by SMS or email, and in the message center) and signs in.
	waitFor(t, "the unlock notice in the dev outbox", func() bool {
		return len(mailsTo(t, srv, p.phoneE164, "notice."+monban.TopicAccountUnlocked))+
			len(mailsTo(t, srv, "appealer@example.jp", "notice."+monban.TopicAccountUnlocked)) > 0
	})
	a.open("/account")
	a.expectPage("/account", "ja", "アカウント")
	a.follow("#signout")
	signInLocked(a, srv, p)
	a.expectPage("/account", "ja", "アカウント")
	a.open("/messages")
	expectText(t, a, fmt.Sprintf(`#notices li[data-topic=%q]`, monban.TopicAccountUnlocked), "ロック")
	a.shot("signed-in-unlock-notice")
	t.Logf("screenshots in e2e/%s", b.dir)
}

var caseRef = regexp.MustCompile(`MB-[0-9A-Z]{4}-[0-9A-Z]{4}`)

// fileAppeal fills the support form on the tab, waits for the page's own
// script to solve the proof of work, sends it and returns the case
// reference the answer names.
func fileAppeal(t *testing.T, tb *tab, ident, contact, text string) string {
	t.Helper()
	tb.expectPage("/support/new", "ja", "サポートへのお問い合わせ")
	tb.fill("#identifier", ident)
	tb.fill("#contact", contact)
	tb.do("choose web", chromedp.Click(chromedp.CSS(`input[name=platform][value=web]`)))
	tb.fill("#device", "Chromium")
	// An empty textarea has nothing to clear: type into it.
	tb.do("type the description", chromedp.SendKeys(chromedp.CSS("#description"), text))
	tb.do("wait for the proof of work", chromedp.WaitVisible(chromedp.CSS(`#pow-status[data-solved="true"]`)),
		chromedp.WaitEnabled(chromedp.CSS("#support-submit")))
	if tb.value(`input[name=altcha]`) == "" {
		t.Fatal("the page's script left the proof of work empty")
	}
	tb.shot("appeal-form")
	if st := tb.follow("#support-submit"); st != http.StatusOK {
		t.Fatalf("support form answered %d: %s", st, tb.text("main"))
	}
	tb.expectPage("/support/new", "ja", "お問い合わせを送信しました")
	ref := caseRef.FindString(tb.text("#filed-text"))
	if ref == "" {
		t.Fatalf("no case reference in %q", tb.text("#filed-text"))
	}
	return ref
}

// deskSignIn makes an agent through the store (as "monban admin agents
// create" does) and signs it in to the console on tb, enrolling the
// authenticator the first sign-in asks for: the code is computed from the
// key the page shows, at the fake clock's time.
func deskSignIn(t *testing.T, srv *server, clock *clocktest.Clock, tb *tab, username string, role monban.AgentRole) {
	t.Helper()
	hash, err := srv.Hasher.Hash(t.Context(), passphrase)
	if err != nil {
		t.Fatal(err)
	}
	agent := &monban.Agent{ID: monban.NewID("agt"), Username: username, PasswordHash: hash, Role: role, CreatedAt: clock.Now()}
	if err := srv.DB.CreateAgent(t.Context(), agent, monban.AuditEvent{At: clock.Now(), AgentID: agent.ID,
		Action: monban.AuditAgentCreated}); err != nil {
		t.Fatal(err)
	}
	tb.open("/desk")
	tb.expectPage("/desk", "ja", "サポートコンソール")
	tb.fill("#username", username)
	tb.fill("#password", passphrase)
	tb.follow("#desk-signin-submit")
	tb.expectPage("/desk/2fa", "ja", "2段階認証")
	secret := tb.text("#totp-secret")
	if secret == "" {
		t.Fatal("first sign-in shows no authenticator key")
	}
	tb.shot("agent-enrol")
	// A wrong code first: refused, the same key still on the page.
	tb.fill("#code", "000000")
	tb.follow("#desk-2fa-submit")
	if tb.count("#error") != 1 || tb.text("#totp-secret") != secret {
		t.Fatalf("a wrong enrolment code: error shown %d, key %q", tb.count("#error"), tb.text("#totp-secret"))
	}
	code, err := totp.GenerateCode(secret, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	tb.fill("#code", code)
	tb.follow("#desk-2fa-submit")
	tb.expectPage("/desk", "ja", "受付一覧")
}

// outboxMail is a dev outbox message with its template.
type outboxMail struct {
	ID, Destination, Template, Body string
	Status                          monban.MessageStatus
}

// mailsTo returns the dev outbox's messages to dest of a template.
func mailsTo(t *testing.T, srv *server, dest, template string) []outboxMail {
	t.Helper()
	resp, err := http.Get(srv.URL + "/dev/outbox.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Messages []outboxMail `json:"messages"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	var got []outboxMail
	for _, m := range out.Messages {
		if m.Destination == dest && m.Template == template {
			got = append(got, m)
		}
	}
	return got
}

// expectAudit fails unless the account's audit log holds each action taken
// by the agent.
func expectAudit(t *testing.T, srv *server, accountID, agentID string, actions ...string) {
	t.Helper()
	evs, err := srv.DB.AuditByAccount(t.Context(), accountID, 500)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range actions {
		found := false
		for _, ev := range evs {
			found = found || (ev.Action == want && ev.AgentID == agentID)
		}
		if !found {
			t.Errorf("audit log of %s lacks %s by %s", accountID, want, agentID)
		}
	}
}
