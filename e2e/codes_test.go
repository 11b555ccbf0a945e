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

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/clocktest"
)

// jst is how the pages show times: Japan time.
var jst = time.FixedZone("JST", 9*60*60)

// TestCodeDeliveryBrowser is issue 3's delivery half in a browser: a typed
// phone number is shown back and corrected before anything is sent, the code
// page names channel, masked destination, time and live status, codes come
// from the dev outbox, and "didn't get a code?" explains, shows when a resend
// is possible and offers the other ways in — first, once the SMS failed or
// went undelivered. Time moves only by the fake clock.
func TestCodeDeliveryBrowser(t *testing.T) {
	start := time.Now()
	clock := clocktest.New(time.Now().Truncate(time.Second))
	srv := startServerAt(t, clock)
	b, a := startBrowser(t, srv.URL)
	sc := &codesScenario{t: t, srv: srv, clock: clock}

	flowA := sc.signUpAndConfirmPhone(a)
	sc.resendAfterCooldown(a, flowA)
	sc.notDeliveredInTime(a, flowA)
	sc.verifyPhoneWithFirstCode(a, flowA)
	sc.failedSMSOffersEmail(b.newIsolatedTab("b"))
	sc.signInSMSFailsLive(b.newIsolatedTab("c"), a)

	t.Logf("scenario took %s; screenshots in e2e/%s", time.Since(start).Round(time.Millisecond), b.dir)
}

// signInSMSFailsLive: a new device held after the password asks for an
// SMS; once the carrier reports it failed, the waiting page says so without
// a reload (the sentence, the status, the not-delivered box with the other
// ways moved up to it), and a voice call to the same number goes at once.
func (sc *codesScenario) signInSMSFailsLive(nb, dev *tab) {
	t := sc.t
	const held = "サインインまであと1ステップ"
	nb.open("/signin")
	nb.fill("#identifier", codesUser)
	nb.fill("#password", passphrase)
	nb.follow("#submit")
	nb.expectPage("/signin/verify", "ja", held)
	n := len(sc.outboxTo(rightE164))
	nb.follow("#send-sms")
	nb.expectPage("/signin/verify", "ja", held)
	if c := nb.count("#not-delivered:not([hidden])"); c != 0 {
		t.Errorf("a fresh SMS is already offered as not delivered")
	}
	msg := sc.waitOutbox(rightE164, n+1)[0]
	waitFor(t, "the sign-in SMS accepted", func() bool { return sc.outboxTo(rightE164)[0].Status == monban.MessageSent })
	dev.open("/dev/outbox")
	dev.follow(fmt.Sprintf(`#outbox tr.msg[data-id=%q] button.fail`, msg.ID))
	nb.do("wait for the not-delivered box without a reload", chromedp.WaitVisible(chromedp.CSS("#not-delivered")))
	expectText(t, nb, "#reach-sentence", "080-****-5678 への SMS は届きませんでした")
	if got := nb.text("#delivery-status"); got != statusFailed {
		t.Errorf("status %q, want %q", got, statusFailed)
	}
	if got := nb.eval(`String(document.querySelector("#not-delivered").nextElementSibling === document.querySelector("#ways-box"))`); got != "true" {
		t.Errorf("the other ways are not moved up to the not-delivered box")
	}
	nb.shot("signin-sms-failed-live")
	nb.follow("#send-voice")
	nb.expectPage("/signin/verify", "ja", held)
	expectText(t, nb, "#reach-sentence", "080-****-5678 に電話をかけて")
	nb.shot("signin-voice-after-failed-sms")
}

type codesScenario struct {
	t     *testing.T
	srv   *server
	clock *clocktest.Clock
}

const (
	codesUser    = "hanako_codes"
	codesEmail   = "hanako@docomo.ne.jp"
	typoPhone    = "090-1234-5678"
	rightPhone   = "080-1234-5678"
	rightE164    = "+818012345678"
	secondUser   = "hiro_codes"
	secondEmail  = "hiro@docomo.ne.jp"
	secondPhone  = "090-8765-4321"
	secondE164   = "+819087654321"
	statusSent   = "送信済み（配達は未確認）"
	statusLate   = "まだ届いていません（配達の確認なし）"
	statusFailed = "配達できませんでした"
)

// signUpAndConfirmPhone registers with a mistyped number, corrects it on the
// confirm page before anything is sent, sends the code and returns the flow.
func (sc *codesScenario) signUpAndConfirmPhone(a *tab) string {
	t := sc.t
	a.open("/signup")
	a.fill("#username", codesUser)
	a.fill("#email", codesEmail)
	a.fill("#phone", typoPhone)
	a.fill("#password", passphrase)
	a.follow("#submit")
	a.expectPage("/verify/confirm", "ja", "コードの送信先の確認")
	if got := a.text("#destination"); got != typoPhone {
		t.Errorf("number shown back = %q, want %q in national format", got, typoPhone)
	}
	expectText(t, a, "main", "080 と 090 は間違えやすい")
	a.shot("confirm-typed-number")

	a.do("open the correction form", chromedp.Click(chromedp.CSS("#fix-number summary")))
	a.fill("#fix-number #phone", rightPhone)
	a.shot("confirm-correcting")
	a.follow("#fix-submit")
	a.expectPage("/verify/confirm", "ja", "コードの送信先の確認")
	if got := a.text("#destination"); got != rightPhone {
		t.Errorf("number shown back after the correction = %q, want %q", got, rightPhone)
	}
	expectText(t, a, "#notice", "番号を修正しました")
	if n := a.count("#error"); n != 0 {
		t.Errorf("the correction is shown as an error: %q", a.text("#error"))
	}
	a.shot("confirm-corrected")

	acc := accountOf(t, sc.srv, codesUser)
	if msgs := sc.outbox(); len(msgs) != 0 {
		t.Fatalf("dev outbox before sending holds %d messages, want none: %+v", len(msgs), msgs)
	}
	if ms, err := sc.srv.DB.MessagesByAccount(t.Context(), acc, 10); err != nil || len(ms) != 0 {
		t.Fatalf("messages for the account before sending: %d (%v), want none", len(ms), err)
	}

	sentAt := sc.clock.Now()
	a.follow("#send")
	flow := codePage(t, a)
	expectText(t, a, "#sent-to", "080-****-5678 に SMS でコードを送りました")
	if got, want := a.text("#sent-to time"), sentAt.In(jst).Format("2006年1月2日 15:04"); got != want {
		t.Errorf("sent time on the code page = %q, want %q", got, want)
	}
	// The worker may have picked the message up already.
	if got := a.text("#delivery-status"); got != "送信待ち" && got != "送信中" && got != statusSent {
		t.Errorf("delivery status = %q, want queued, sending or sent", got)
	}
	sc.waitOutbox(rightE164, 1)
	a.open("/verify/" + flow)
	if got := a.text("#delivery-status"); got != statusSent {
		t.Errorf("delivery status once sent = %q, want %q (accepted is never shown as delivered)", got, statusSent)
	}
	if n := a.count("#not-delivered:not([hidden])"); n != 0 {
		t.Errorf("a fresh SMS is already offered as not delivered")
	}
	a.shot("code-page-sms-sent")
	if ids := sc.outboxTo(rightE164); ids[0].Channel != monban.ChannelSMS || ids[0].Purpose != string(monban.PurposeVerifyPhone) {
		t.Errorf("outbox message = %+v, want an SMS for verify_phone", ids[0])
	}
	if n := len(sc.outboxTo("+819012345678")); n != 0 {
		t.Errorf("%d messages went to the mistyped number", n)
	}
	return flow
}

// resendAfterCooldown: while the cooldown runs the help page shows when a
// resend is possible and no button; past it, the button sends a second code.
func (sc *codesScenario) resendAfterCooldown(a *tab, flow string) {
	t := sc.t
	a.follow("#no-code")
	a.expectPage("/verify/"+flow+"/help", "ja", "コードが届かない場合")
	next := sc.clock.Now().Add(30 * time.Second).In(jst).Format("15:04:05") // under a minute: to the second
	if got, want := a.text("#resend-at"), next+" 以降に再送できます。"; got != want {
		t.Errorf("resend time = %q, want %q", got, want)
	}
	if n := a.count("#resend"); n != 0 {
		t.Errorf("resend button shown during the cooldown")
	}
	causes := a.text("#causes")
	for _, want := range []string{"電波", "SMS 拒否", "データ通信専用の SIM", "電話番号がもう使われていない"} {
		if !strings.Contains(causes, want) {
			t.Errorf("causes %q lack %q", causes, want)
		}
	}
	a.shot("help-cooling-down")

	sc.clock.Advance(31 * time.Second)
	a.open("/verify/" + flow + "/help")
	if n := a.count("#resend-at"); n != 0 {
		t.Errorf("resend time still shown after the cooldown: %q", a.text("#resend-at"))
	}
	a.shot("help-resend-ready")
	a.follow("#resend")
	a.expectPage("/verify/"+flow, "ja", "コードの入力")
	msgs := sc.waitOutbox(rightE164, 2)
	if msgs[0].Code == msgs[1].Code {
		t.Errorf("the resend carries the same code %s", msgs[0].Code)
	}
	a.shot("code-page-after-resend")
}

// notDeliveredInTime: an SMS still merely "sent" two minutes on is treated
// as not delivered, and the page offers the other ways.
func (sc *codesScenario) notDeliveredInTime(a *tab, flow string) {
	sc.waitStatus(rightE164, 2, monban.MessageSent)
	sc.clock.Advance(2*time.Minute + time.Second)
	a.open("/verify/" + flow)
	a.do("wait for the not-delivered notice", chromedp.WaitVisible(chromedp.CSS("#not-delivered")))
	expectText(sc.t, a, "#not-delivered", "コードが届いていません")
	if got := a.text("#delivery-status"); got != statusLate {
		sc.t.Errorf("status after two minutes = %q, want %q", got, statusLate)
	}
	a.shot("code-page-not-delivered-in-time")
}

// verifyPhoneWithFirstCode reads the first code from the dev outbox (the
// resend did not void it), tries a wrong code, then the right one.
func (sc *codesScenario) verifyPhoneWithFirstCode(a *tab, flow string) {
	t := sc.t
	a.open("/dev/outbox")
	a.expectPage("/dev/outbox", "ja", "開発用送信箱")
	if n := a.count("#outbox tr.msg"); n != 2 {
		t.Errorf("dev outbox page lists %d messages, want 2", n)
	}
	a.shot("dev-outbox")

	msgs := sc.outboxTo(rightE164)
	first := msgs[len(msgs)-1].Code // newest first
	a.open("/verify/" + flow)
	a.fill("#code", wrongCode(msgs))
	a.follow("#verify")
	expectText(t, a, "#error", "確認コードが正しくありません")
	if got := a.text("#error"); !regexp.MustCompile(`あと \d+ 回`).MatchString(got) {
		t.Errorf("wrong-code error %q does not say how many tries are left", got)
	}
	a.shot("code-wrong")

	a.fill("#code", first)
	a.follow("#verify")
	a.expectPage("/account", "ja", "アカウント")
	expectText(t, a, "#notice", "電話番号を確認しました")
	if got := a.eval(`[...document.querySelectorAll("#identifiers li")].find(li => li.textContent.includes("` + rightPhone + `"))?.querySelector(".badge")?.textContent ?? ""`); got != "確認済み" {
		t.Errorf("phone badge = %q, want 確認済み", got)
	}
	a.shot("account-phone-verified")
	sc.expectVerified(accountOf(t, sc.srv, codesUser), monban.KindPhone, rightE164)
}

// failedSMSOffersEmail: a failed SMS turns the code page and the help page
// towards the other ways; the carrier email goes through its confirm page
// (with the receive-settings advice) before its code is sent.
func (sc *codesScenario) failedSMSOffersEmail(b *tab) {
	t := sc.t
	b.open("/signup")
	b.fill("#username", secondUser)
	b.fill("#email", secondEmail)
	b.fill("#phone", secondPhone)
	b.fill("#password", passphrase)
	b.follow("#submit")
	b.expectPage("/verify/confirm", "ja", "コードの送信先の確認")
	b.follow("#send")
	flow := codePage(t, b)
	msg := sc.waitOutbox(secondE164, 1)[0]

	b.open("/dev/outbox")
	b.follow(fmt.Sprintf(`#outbox tr.msg[data-id=%q] button.fail`, msg.ID))
	b.expectPage("/dev/outbox", "ja", "開発用送信箱")
	if got := sc.outboxTo(secondE164)[0].Status; got != monban.MessageFailed {
		t.Errorf("outbox status after the failure report = %q, want failed", got)
	}
	b.shot("dev-outbox-sms-failed")

	b.open("/verify/" + flow)
	if got := b.text("#delivery-status"); got != statusFailed {
		t.Errorf("status after the failure = %q, want %q", got, statusFailed)
	}
	b.do("wait for the not-delivered notice", chromedp.WaitVisible(chromedp.CSS("#not-delivered")))
	if got := b.eval(`String(!!(document.querySelector("#not-delivered").compareDocumentPosition(document.querySelector("#sent-to")) & Node.DOCUMENT_POSITION_FOLLOWING))`); got != "true" {
		t.Errorf("the not-delivered notice does not come before the sent message")
	}
	b.shot("code-page-sms-failed")

	b.follow("#no-code")
	b.expectPage("/verify/"+flow+"/help", "ja", "コードが届かない場合")
	// A failed SMS frees its channel: the resend is offered at once.
	if n := b.count("#resend"); n != 1 {
		t.Errorf("no resend at once after the failed SMS (resend-at %d)", b.count("#resend-at"))
	}
	if got := b.eval(`[...document.querySelectorAll("main section")].map(s => s.id || s.querySelector("h2").id).join(",")`); !strings.HasPrefix(got, "alternatives,") {
		t.Errorf("help page sections in order %q, want the other ways first", got)
	}
	if got := b.text(`#alternatives li[data-channel="voice"]`); !strings.Contains(got, "090-****-4321") {
		t.Errorf("voice alternative = %q, want the same number masked", got)
	}
	if n := b.count("#alternatives.first"); n != 1 {
		t.Errorf("other ways not marked first after the failure")
	}
	emailAlt := `#alternatives li[data-channel="email"]`
	expectText(t, b, emailAlt, "h***@docomo.ne.jp")
	b.shot("help-sms-failed")

	b.follow(emailAlt + " button")
	b.expectPage("/verify/confirm", "ja", "コードの送信先の確認")
	if got := b.text("#destination"); got != secondEmail {
		t.Errorf("email shown back = %q, want %q", got, secondEmail)
	}
	expectText(t, b, "#carrier-hint", "monban.localhost")
	if n := len(sc.outboxTo(secondEmail)); n != 0 {
		t.Errorf("%d emails sent before the confirm page's send button", n)
	}
	b.shot("confirm-carrier-email")

	b.follow("#send")
	codePage(t, b)
	expectText(t, b, "#sent-to", "h***@docomo.ne.jp にメールでコードを送りました")
	m := sc.waitOutbox(secondEmail, 1)[0]
	if m.Channel != monban.ChannelEmail || m.Purpose != string(monban.PurposeVerifyEmail) {
		t.Errorf("email outbox message = %+v", m)
	}
	b.shot("code-page-email")
	b.fill("#code", m.Code)
	b.follow("#verify")
	b.expectPage("/account", "ja", "アカウント")
	expectText(t, b, "#notice", "メールアドレスを確認しました")
	b.shot("account-email-verified")
	sc.expectVerified(accountOf(t, sc.srv, secondUser), monban.KindEmail, secondEmail)
}

// codePage waits for the code page and returns its flow id.
func codePage(t *testing.T, tb *tab) string {
	t.Helper()
	path, lang := tb.page()
	flow, ok := strings.CutPrefix(path, "/verify/")
	if !ok || strings.Contains(flow, "/") || lang != "ja" {
		t.Fatalf("page %s (%s), want the Japanese code page /verify/{flow}", path, lang)
	}
	if got := tb.text("main h1"); got != "コードの入力" {
		t.Fatalf("code page heading %q", got)
	}
	return flow
}

func expectText(t *testing.T, tb *tab, sel, want string) {
	t.Helper()
	if got := tb.text(sel); !strings.Contains(got, want) {
		t.Errorf("%s reads %q, want it to contain %q", sel, got, want)
	}
}

// wrongCode returns a code of the right length that none of msgs carries.
func wrongCode(msgs []devMessage) string {
	for i := 0; ; i++ {
		c := fmt.Sprintf("%06d", (123456+i*111111)%1000000)
		taken := false
		for _, m := range msgs {
			taken = taken || m.Code == c
		}
		if !taken {
			return c
		}
	}
}

// accountOf returns the id of the account holding username.
func accountOf(t *testing.T, srv *server, username string) string {
	t.Helper()
	accs, err := srv.DB.AccountsByIdentifier(t.Context(), monban.KindUsername, username)
	if err != nil || len(accs) != 1 {
		t.Fatalf("accounts named %s: %d (%v), want 1", username, len(accs), err)
	}
	return accs[0].ID
}

func (sc *codesScenario) expectVerified(accountID string, kind monban.IdentifierKind, value string) {
	sc.t.Helper()
	ids, err := sc.srv.DB.IdentifiersByAccount(sc.t.Context(), accountID)
	if err != nil {
		sc.t.Fatal(err)
	}
	for _, id := range ids {
		if id.Kind == kind && id.Value == value {
			if !id.Verified {
				sc.t.Errorf("%s %s is not verified in the store", kind, value)
			}
			return
		}
	}
	sc.t.Errorf("account %s has no %s %s: %+v", accountID, kind, value, ids)
}

// devMessage is one entry of /dev/outbox.json.
type devMessage struct {
	ID          string               `json:"id"`
	Channel     monban.Channel       `json:"channel"`
	Destination string               `json:"destination"`
	Purpose     string               `json:"purpose"`
	Code        string               `json:"code"`
	Status      monban.MessageStatus `json:"status"`
	CreatedAt   time.Time            `json:"created_at"`
}

// outbox reads /dev/outbox.json, newest first, as a script would.
func (sc *codesScenario) outbox() []devMessage {
	sc.t.Helper()
	resp, err := http.Get(sc.srv.URL + "/dev/outbox.json")
	if err != nil {
		sc.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		sc.t.Fatalf("GET /dev/outbox.json: %s", resp.Status)
	}
	var out struct {
		Messages []devMessage `json:"messages"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		sc.t.Fatalf("decode /dev/outbox.json: %v", err)
	}
	return out.Messages
}

func (sc *codesScenario) outboxTo(dest string) []devMessage {
	sc.t.Helper()
	var out []devMessage
	for _, m := range sc.outbox() {
		if m.Destination == dest {
			out = append(out, m)
		}
	}
	return out
}

// waitOutbox waits until the worker has put n messages for dest in the dev
// outbox and returns them, newest first.
func (sc *codesScenario) waitOutbox(dest string, n int) []devMessage {
	sc.t.Helper()
	var msgs []devMessage
	waitFor(sc.t, fmt.Sprintf("%d messages to %s in the dev outbox", n, dest), func() bool {
		msgs = sc.outboxTo(dest)
		return len(msgs) >= n
	})
	if len(msgs) != n {
		sc.t.Fatalf("dev outbox holds %d messages to %s, want %d", len(msgs), dest, n)
	}
	return msgs
}

// waitStatus waits until all n messages to dest have status st.
func (sc *codesScenario) waitStatus(dest string, n int, st monban.MessageStatus) {
	sc.t.Helper()
	waitFor(sc.t, fmt.Sprintf("%d messages to %s %s", n, dest, st), func() bool {
		msgs := sc.outboxTo(dest)
		for _, m := range msgs {
			if m.Status != st {
				return false
			}
		}
		return len(msgs) == n
	})
}
