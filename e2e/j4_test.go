package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/clocktest"
)

// TestJ4NewDeviceSignIn is journey J4 (seed 003) in Chromium: a new device
// proves itself with a 6-digit code or an approval from a trusted session
// (or is denied), a passkey signs in with no password, an authenticator
// app is the second step once 2-step is on, and a recovery code is the
// last resort. Each browser context is its own device. Time that matters
// to the server (TOTP steps) moves by the fake clock.
func TestJ4NewDeviceSignIn(t *testing.T) {
	clock := clocktest.New(time.Now().Truncate(time.Second))
	srv := startServerLocalhost(t, clock)
	b, owner := startBrowser(t, srv.URL)
	j := &j4{t: t, srv: srv, clock: clock, b: b, owner: owner}
	j.signUp()

	for _, step := range []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"code", j.newDeviceCode},
		{"approve", j.approveFromTrustedSession},
		{"deny", j.deny},
		{"passkey", j.passkey},
		{"totp", j.totp},
		{"recovery_code", j.recoveryCode},
	} {
		// Each step builds on the ones before: stop at the first failure.
		if !t.Run(step.name, j.in(step.fn)) {
			break
		}
	}
	t.Logf("screenshots in e2e/%s", b.dir)
}

const (
	j4User  = "sakura_j4"
	j4Email = "sakura.j4@example.jp"
	// j4Verify is the heading of the second-step page.
	j4Verify = "ログインまであと1ステップ"
)

type j4 struct {
	t         *testing.T
	srv       *server
	clock     *clocktest.Clock
	b         *browser
	owner     *tab // the browser sakura signed up in: her trusted device
	accountID string
	totpKey   string
	codes     []string
}

// in runs fn as a subtest whose failures the browser helpers report (they
// fail the test they are given, which must be the running one).
func (j *j4) in(fn func(t *testing.T)) func(t *testing.T) {
	return func(t *testing.T) {
		parent := j.b.t
		j.b.t, j.t = t, t
		defer func() { j.b.t, j.t = parent, parent }()
		fn(t)
	}
}

// signUp registers sakura in the owner's browser and verifies her email,
// so that a new device can be sent a code.
func (j *j4) signUp() {
	t, a := j.t, j.owner
	a.open("/signup")
	a.fill("#username", j4User)
	a.fill("#email", j4Email)
	a.fill("#password", passphrase)
	a.follow("#submit")
	a.expectPage("/account", "ja", "アカウント")
	a.follow("#verify-email")
	a.expectPage("/verify/confirm", "ja", "コードの送信先の確認")
	a.follow("#send")
	codePage(t, a)
	a.fill("#code", j.waitCode(j4Email, "code.verify_email", 1))
	a.follow("#verify")
	a.expectPage("/account", "ja", "アカウント")
	expectText(t, a, "#notice", "メールアドレスを確認しました")
	a.shot("owner-signed-up")
	j.accountID = accountOf(t, j.srv, j4User)
}

// signIn types the password in a fresh browser context (a new device) and
// expects the second-step page.
func (j *j4) signIn(name string) *tab {
	j.t.Helper()
	tb := j.b.newIsolatedTab(name)
	tb.open("/signin")
	tb.fill("#identifier", j4User)
	tb.fill("#password", passphrase)
	tb.follow("#submit")
	tb.expectPage("/signin/verify", "ja", j4Verify)
	return tb
}

// newDeviceCode: a second browser is held after the password and finishes
// with the 6-digit code emailed to the verified address.
func (j *j4) newDeviceCode(t *testing.T) {
	nb := j.signIn("new")
	expectText(t, nb, "#reason", "この端末からこのアカウントにログインするのは初めてです")
	for _, way := range []string{"#send-email", "#ask-approval"} {
		if nb.count(way) != 1 {
			t.Errorf("second-step page lacks %s", way)
		}
	}
	nb.shot("new-device-held")
	nb.follow("#send-email")
	nb.expectPage("/signin/verify", "ja", j4Verify)
	expectText(t, nb, "#sent-to", "s***@example.jp")
	code := j.waitCode(j4Email, "code.new_device", 1)
	if len(code) != 6 {
		t.Errorf("new-device code %q, want 6 digits", code)
	}
	nb.fill("#code", code)
	nb.shot("new-device-code-typed")
	nb.follow("#verify-code")
	nb.expectPage("/account", "ja", "アカウント")
	nb.shot("new-device-signed-in")
	expectSessions(t, j.srv, j.accountID, 2)
}

// waitForPrompt waits on the owner's account page for the prompt of the
// waiting device and returns its selector.
func (j *j4) waitForPrompt(what string) string {
	j.t.Helper()
	j.owner.open("/account")
	j.owner.do("wait for the prompt", chromedp.WaitVisible(chromedp.CSS("#approvals [data-prompt]")))
	j.owner.shot(what)
	return "#approvals [data-prompt]"
}

// approveFromTrustedSession: the waiting browser asks; the owner's browser
// shows "is this you?" with the device and address and approves; the
// waiting page goes on by itself. The link went by email too.
func (j *j4) approveFromTrustedSession(t *testing.T) {
	wb := j.signIn("waiting")
	wb.follow("#ask-approval")
	wb.expectPage("/signin/verify", "ja", j4Verify)
	wb.do("waiting box", chromedp.WaitVisible(chromedp.CSS("#waiting")))
	wb.shot("waiting-for-approval")

	prompt := j.waitForPrompt("owner-sees-prompt")
	expectText(t, j.owner, prompt, "127.0.0.1")
	expectText(t, j.owner, prompt, "ログインしようとしているのはあなたですか？")
	link := j.approvalLink(1)
	if !strings.HasPrefix(link, j.srv.URL+"/approve/") {
		t.Errorf("emailed approval link %q, want %s/approve/…", link, j.srv.URL)
	}
	j.owner.follow(prompt + " button.approve")
	j.owner.expectPage("/account/security", "ja", "セキュリティと2段階認証")
	expectText(t, j.owner, "#notice", "ログインを承認しました")
	j.owner.shot("owner-approved")

	wb.do("the waiting page goes on", chromedp.WaitVisible(chromedp.CSS("#identifiers")))
	wb.expectPage("/account", "ja", "アカウント")
	wb.shot("approved-device-signed-in")
	expectSessions(t, j.srv, j.accountID, 3)

	// The link cannot approve again.
	wb.open(strings.TrimPrefix(link, j.srv.URL))
	if n := wb.count("#approve"); n != 0 {
		t.Errorf("a used approval link still offers to approve")
	}
	wb.shot("used-link")
}

// deny: the owner says "not me"; the attempt ends on its own page with the
// advice to change the password, and the audit records a hostile sign-in.
func (j *j4) deny(t *testing.T) {
	xb := j.signIn("stranger")
	xb.follow("#ask-approval")
	xb.do("waiting box", chromedp.WaitVisible(chromedp.CSS("#waiting")))
	prompt := j.waitForPrompt("owner-sees-stranger")
	j.owner.follow(prompt + " button.deny")
	j.owner.expectPage("/account/security", "ja", "セキュリティと2段階認証")
	expectText(t, j.owner, "#notice", "誰かがパスワードを知っているおそれ")
	j.owner.shot("owner-denied")

	xb.do("the waiting page ends", chromedp.WaitVisible(chromedp.CSS("#error")))
	xb.expectPage("/signin/verify/complete", "ja", "ログイン")
	expectText(t, xb, "#error", "パスワードを変更してください")
	xb.shot("stranger-denied")
	xb.open("/account")
	xb.expectPage("/signin", "ja", "ログイン")
	expectSessions(t, j.srv, j.accountID, 3)

	evs, err := j.srv.DB.AuditByAccount(t.Context(), j.accountID, 100)
	if err != nil {
		t.Fatal(err)
	}
	denied := 0
	for _, ev := range evs {
		if ev.Action == monban.AuditSignInDenied {
			denied++
		}
	}
	if denied != 1 {
		t.Errorf("signin.denied audit entries = %d, want 1", denied)
	}
}

// reauth proves the password again on the owner's browser: changing
// factors needs it within ten minutes.
func (j *j4) reauth() {
	j.t.Helper()
	a := j.owner
	a.open("/account/reauth?next=/account/security")
	a.fill("#password", passphrase)
	a.follow("#reauth")
	a.expectPage("/account/security", "ja", "セキュリティと2段階認証")
}

// virtualAuthenticator gives the tab a platform authenticator that holds
// discoverable credentials and verifies its user, through the DevTools
// WebAuthn domain.
func virtualAuthenticator(tb *tab) webauthn.AuthenticatorID {
	tb.b.t.Helper()
	return run(tb, "add a virtual authenticator", func(ctx context.Context, t *chromedp.Target) (webauthn.AuthenticatorID, error) {
		if _, err := cdp.Call(ctx, t, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return "", err
		}
		res, err := cdp.Call(ctx, t, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2,
				Ctap2version: webauthn.Ctap2versionCtap21, Transport: webauthn.AuthenticatorTransportInternal,
				HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
				// cdproto always sends addCredential's generateCmtgKeyOnNextOperation,
				// which Chromium accepts only from an authenticator with CMTG keys.
				HasCmtgKey: true}})
		return res.AuthenticatorID, err
	})
}

// passkey: the owner adds a passkey on the security page; on a new device
// the same (synced) passkey signs in with no password and no second step.
func (j *j4) passkey(t *testing.T) {
	a := j.owner
	ownerAuth := virtualAuthenticator(a)
	j.reauth()
	a.fill("#passkey-name", "iPhone のパスキー")
	a.shot("security-before-passkey")
	a.do("add a passkey", chromedp.Click(chromedp.CSS("#add-passkey")),
		chromedp.WaitVisible(chromedp.CSS(`#factors li[data-kind="passkey"]`)))
	a.expectPage("/account/security", "ja", "セキュリティと2段階認証")
	expectText(t, a, `#factors li[data-kind="passkey"]`, "iPhone のパスキー")
	a.shot("passkey-added")

	creds := run(a, "read the passkey", func(ctx context.Context, tg *chromedp.Target) ([]*webauthn.Credential, error) {
		res, err := cdp.Call(ctx, tg, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: ownerAuth})
		return res.Credentials, err
	})
	if len(creds) != 1 || !creds[0].IsResidentCredential {
		t.Fatalf("authenticator holds %d credentials (%+v), want one discoverable passkey", len(creds), creds)
	}

	// A new phone whose platform already has the synced passkey.
	c := *creds[0]
	c.CmtgKeys, c.ActiveCmtgKeyIndex, c.GenerateCmtgKeyOnNextOperation = nil, nil, false
	pb := j.b.newIsolatedTab("passkey")
	phoneAuth := virtualAuthenticator(pb)
	pb.do("sync the passkey", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, webauthn.AddCredential, webauthn.AddCredentialParams{AuthenticatorID: phoneAuth, Credential: &c})
		return err
	}))
	pb.open("/signin")
	pb.shot("signin-with-passkey-button")
	pb.do("sign in with the passkey", chromedp.Click(chromedp.CSS("#passkey-signin")),
		chromedp.WaitVisible(chromedp.CSS("#identifiers")))
	pb.expectPage("/account", "ja", "アカウント")
	pb.shot("passkey-signed-in")
	var pk *monban.Session
	for _, s := range expectSessions(t, j.srv, j.accountID, 4) {
		if strings.Contains(strings.Join(s.Methods, ","), "hwk") {
			pk = &s
		}
	}
	if pk == nil || pk.AuthLevel != monban.AuthTwoStep {
		t.Errorf("passkey session %+v, want level 2 with method hwk", pk)
	}
}

// totp: the owner sets up an authenticator app from the key shown on the
// page, turns 2-step on, and a new browser finishes with the app's code.
func (j *j4) totp(t *testing.T) {
	a := j.owner
	j.reauth()
	a.follow("#add-totp")
	a.expectPage("/account/totp", "ja", "認証アプリを設定")
	if w := a.eval(`String(document.querySelector("#totp-qr")?.naturalWidth ?? 0)`); w == "0" {
		t.Error("the QR code on the enrol page does not load")
	}
	j.totpKey = strings.ReplaceAll(a.text("#totp-secret"), " ", "")
	a.shot("totp-enrol")
	a.fill("#code", j.totpCode())
	a.follow("#confirm-totp")
	a.expectPage("/account/security", "ja", "セキュリティと2段階認証")
	if a.count(`#factors li[data-kind="totp"]`) != 1 {
		t.Fatal("no authenticator app listed after confirming")
	}
	a.follow("#toggle-two-step")
	a.expectPage("/account/security", "ja", "セキュリティと2段階認証")
	expectText(t, a, "#two-step-state", "オン")
	a.shot("two-step-on")

	// The next 30-second step: each code works once.
	j.clock.Advance(30 * time.Second)
	tb := j.signIn("totp")
	expectText(t, tb, "#reason", "2段階認証がオン")
	tb.do("open the app way", chromedp.Click(chromedp.CSS("#open-totp")))
	tb.fill("#code-totp", j.totpCode())
	tb.shot("totp-code-typed")
	tb.follow("#verify-totp")
	tb.expectPage("/account", "ja", "アカウント")
	tb.shot("totp-signed-in")
}

func (j *j4) totpCode() string {
	j.t.Helper()
	code, err := totp.GenerateCode(j.totpKey, j.clock.Now())
	if err != nil {
		j.t.Fatalf("TOTP code from %q: %v", j.totpKey, err)
	}
	return code
}

// recoveryCode: with the phone lost, a recovery code (listed last) still
// gets the person in, once.
func (j *j4) recoveryCode(t *testing.T) {
	a := j.owner
	j.reauth()
	a.follow("#new-recovery-codes")
	a.expectPage("/account/recovery-codes", "ja", "リカバリーコード")
	j.codes = strings.Fields(a.text("#recovery-codes"))
	if len(j.codes) != 10 {
		t.Fatalf("recovery codes shown: %v, want 10", j.codes)
	}
	a.shot("recovery-codes")

	rb := j.signIn("recovery")
	ways := rb.eval(`[...document.querySelectorAll("#ways > li")].map(li => li.id).join(",")`)
	if !strings.HasSuffix(ways, "way-recovery_code") {
		t.Errorf("ways %s: want the recovery code last", ways)
	}
	rb.do("open the recovery way", chromedp.Click(chromedp.CSS("#open-recovery_code")))
	rb.fill("#code-recovery_code", j.codes[0])
	rb.shot("recovery-code-typed")
	rb.follow("#verify-recovery_code")
	rb.expectPage("/account", "ja", "アカウント")
	rb.shot("recovery-code-signed-in")

	again := j.signIn("recovery-again")
	again.do("open the recovery way", chromedp.Click(chromedp.CSS("#open-recovery_code")))
	again.fill("#code-recovery_code", j.codes[0])
	again.follow("#verify-recovery_code")
	again.expectPage("/signin/verify", "ja", j4Verify)
	expectText(t, again, "#error", "リカバリーコード")
	again.shot("recovery-code-spent")
}

// waitCode waits for the n-th message of template to dest in the dev
// outbox and returns the newest one's code.
func (j *j4) waitCode(dest, template string, n int) string {
	j.t.Helper()
	var code string
	waitFor(j.t, fmt.Sprintf("%d %s messages to %s", n, template, dest), func() bool {
		ms, err := j.srv.DB.DevMessages(context.Background(), 50)
		got := 0
		code = ""
		for _, m := range ms {
			if err == nil && m.Destination == dest && m.Template == template {
				got++
				if code == "" {
					code = m.Code
				}
			}
		}
		return got >= n
	})
	return code
}

// approvalLink waits for the n-th approval email and returns its link.
func (j *j4) approvalLink(n int) string {
	j.t.Helper()
	var body string
	waitFor(j.t, "the approval email", func() bool {
		ms, err := j.srv.DB.DevMessages(context.Background(), 50)
		got := 0
		body = ""
		for _, m := range ms {
			if err == nil && m.Destination == j4Email && m.Template == "notice."+monban.TopicSignInApproval {
				got++
				if body == "" {
					body = m.Body
				}
			}
		}
		return got >= n
	})
	for _, f := range strings.Fields(body) {
		if strings.Contains(f, "/approve/") {
			return f
		}
	}
	j.t.Fatalf("approval email without a link:\n%s", body)
	return ""
}
