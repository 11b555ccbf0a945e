package e2e

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/monban-dev/monban/internal/sqlstore"
)

// j5 is one person's login-help journey (seed 004) against one server.
type j5 struct {
	t   *testing.T
	srv *server
}

// mail waits for the newest message of template to dest in the dev outbox
// (the person's mailbox in development mode) beyond the first seen ones.
func (j *j5) mail(dest, template string, seen int) sqlstore.DevMessage {
	j.t.Helper()
	var found []sqlstore.DevMessage
	waitFor(j.t, template+" to "+dest+" in the dev outbox", func() bool {
		ms, err := j.srv.DB.DevMessages(context.Background(), 200)
		if err != nil {
			return false
		}
		found = found[:0]
		for _, m := range ms {
			if m.Destination == dest && m.Template == template {
				found = append(found, m)
			}
		}
		return len(found) > seen
	})
	return found[0]
}

func (j *j5) count(dest, template string) int {
	ms, err := j.srv.DB.DevMessages(context.Background(), 200)
	if err != nil {
		j.t.Fatal(err)
	}
	n := 0
	for _, m := range ms {
		if m.Destination == dest && m.Template == template {
			n++
		}
	}
	return n
}

// j5SignIn signs in through the page and expects to land on want.
func j5SignIn(tb *tab, identifier, password, want string) {
	tb.b.t.Helper()
	tb.open("/signin")
	tb.fill("#identifier", identifier)
	tb.fill("#password", password)
	tb.follow("#submit")
	if path, _ := tb.page(); path != want {
		tb.b.t.Fatalf("tab %s: sign-in as %q landed on %s (%s), want %s", tb.name, identifier, path, tb.text("main"), want)
	}
}

func j5SignOut(tb *tab) {
	tb.b.t.Helper()
	tb.open("/account")
	tb.follow("#signout")
}

var undoLink = regexp.MustCompile(`https?://[^\s"<>]+/help/undo/[A-Za-z0-9_-]{43}`)

// TestJ5LoginHelp is journey J5 (seed 004) in Chromium: an identifier typed
// with "@" (and in full width) signs in; a forgotten password is reset with
// the code mailed to the account; and an attacker who changed the email
// address loses the account again to the owner, who uses the link sent to
// the old address.
func TestJ5LoginHelp(t *testing.T) {
	srv := startServer(t)
	j := &j5{t: t, srv: srv}
	b, a := startBrowser(t, srv.URL)
	const (
		email     = "hanako.j5@example.jp"
		firstPass = "kamo river lanterns drift past midnight"
		newPass   = "maple leaves over the old stone bridge"
		evilMail  = "attacker.j5@example.net"
		evilPass  = "the attacker owns this account now"
		finalPass = "morning tea on a quiet temple step"
	)

	// Hanako signs up and verifies her email address.
	a.open("/signup")
	a.fill("#username", "Hanako_J5")
	a.fill("#email", email)
	a.fill("#password", firstPass)
	a.follow("#submit")
	a.expectPage("/account", "ja", "アカウント")
	a.follow("#verify-email")
	a.follow("#send")
	a.fill("#code", j.mail(email, "code.verify_email", 0).Code)
	a.follow("#verify")
	a.expectPage("/account", "ja", "アカウント")
	j5SignOut(a)

	t.Run("identifier typed with @", func(t *testing.T) {
		j5SignIn(a, "@Hanako_J5", firstPass, "/account")
		a.shot("signed-in-with-at")
		j5SignOut(a)
		a.open("/signin")
		a.fill("#identifier", "＠ｈａｎａｋｏ＿ｊ５")
		a.fill("#password", firstPass)
		a.shot("full-width-identifier-typed")
		a.follow("#submit")
		a.expectPage("/account", "ja", "アカウント")
		j5SignOut(a)

		// A stranger guessing from another browser is slowed down, and the
		// page names the time of the next try; Hanako's own browser is not.
		g := b.newIsolatedTab("guesser")
		for i := range 6 {
			j5SignIn(g, "hanako_j5", fmt.Sprintf("guess number %d", i), "/signin")
		}
		j5SignIn(g, "hanako_j5", "guess number 7", "/signin")
		if got := g.text("#error"); !strings.Contains(got, "以降にお試しください") {
			t.Errorf("seventh guess: %q, want the time of the next try", got)
		}
		g.shot("stranger-throttled")
		j5SignIn(a, "hanako_j5", firstPass, "/account")
		a.shot("owner-not-slowed")
		j5SignOut(a)
	})

	t.Run("forgotten password via email code", func(t *testing.T) {
		a.open("/signin")
		a.follow("#login-help")
		a.expectPage("/help/signin", "ja", "ログインヘルプ")
		a.fill("#identifier", "@hanako_j5")
		a.shot("login-help-identify")
		a.follow("#submit")
		if got := a.text("#sent-to"); !strings.Contains(got, "@hanako_j5 に該当するアカウントがあれば") {
			t.Errorf("code page says %q", got)
		}
		a.shot("login-help-code-page")
		m := j.mail(email, "code.recovery", 0)
		if !strings.Contains(m.Body, "24時間有効") {
			t.Errorf("the emailed recovery code does not say it lasts 24 hours:\n%s", m.Body)
		}
		mailbox := b.newIsolatedTab("mailbox")
		mailbox.open("/dev/outbox")
		mailbox.shot("mailbox-recovery-code")
		a.fill("#code", "000000")
		a.follow("#verify")
		if got := a.text("#error"); !strings.Contains(got, "確認コードが正しくありません") {
			t.Errorf("wrong code: %q", got)
		}
		a.fill("#code", m.Code)
		a.follow("#verify")
		a.fill("#password", "short")
		a.follow("#set-password")
		if got := a.text("#error"); !strings.Contains(got, "短すぎます") {
			t.Errorf("short password: %q", got)
		}
		a.fill("#password", newPass)
		a.shot("login-help-new-password")
		a.follow("#set-password")
		if got := a.text("#done"); !strings.Contains(got, "パスワードを変更しました") {
			t.Errorf("done page: %q", got)
		}
		a.shot("login-help-done")
		j5SignIn(a, "hanako.j5@example.jp", newPass, "/account")
		if n := j.count(email, "notice.password.changed"); n != 1 {
			t.Errorf("%d password-changed notices to %s, want 1", n, email)
		}
	})

	t.Run("takeover undone from the old address", func(t *testing.T) {
		// The attacker has Hanako's password (phished) and her session
		// cookie (stolen), so the new-device check does not stop them.
		var cookies []*network.Cookie
		a.do("read cookies", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{srv.URL}})
			cookies = res.Cookies
			return err
		}))
		x := b.newIsolatedTab("attacker")
		x.do("steal the session", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			httpOnly := true
			for _, c := range cookies {
				if c.Name == "monban_session" {
					_, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{Name: c.Name, Value: c.Value,
						URL: srv.URL, HTTPOnly: &httpOnly})
					return err
				}
			}
			return fmt.Errorf("no session cookie among %d", len(cookies))
		}))
		x.open("/account")
		x.follow("#change-email")
		x.expectPage("/account/contact", "ja", "メールアドレスの変更")
		x.fill("#value", evilMail)
		x.fill("#password", "a wrong guess at her password")
		x.follow("#submit")
		if got := x.text("#error"); !strings.Contains(got, "現在のパスワードが正しくありません") {
			t.Errorf("change without the password: %q", got)
		}
		x.fill("#password", newPass)
		x.shot("attacker-changes-email")
		x.follow("#submit")
		x.fill("#code", j.mail(evilMail, "code.contact_change", 0).Code)
		x.follow("#verify")
		x.expectPage("/account", "ja", "アカウント")
		if ids := x.text("#identifiers"); !strings.Contains(ids, evilMail) {
			t.Fatalf("the attacker's address is not on the account: %q", ids)
		}
		x.shot("attacker-email-changed")
		// …and resets the password through the new address, which ends
		// Hanako's sessions.
		j5SignOut(x)
		x.open("/help/signin")
		x.fill("#identifier", evilMail)
		x.follow("#submit")
		x.fill("#code", j.mail(evilMail, "code.recovery", 0).Code)
		x.follow("#verify")
		x.fill("#password", evilPass)
		x.follow("#set-password")
		x.open("/account")
		if path, _ := x.page(); path != "/signin" {
			t.Fatalf("attacker tab on %s", path)
		}

		// Hanako is signed out and her password no longer works.
		a.open("/account")
		if path, _ := a.page(); path != "/signin" {
			t.Fatalf("owner still signed in after the attacker's reset: %s", path)
		}
		j5SignIn(a, email, newPass, "/signin")
		a.shot("owner-locked-out")

		// The notice went to the old address, not the attacker's.
		notice := j.mail(email, "notice.contact.changed", 0)
		if j.count(evilMail, "notice.contact.changed") != 0 {
			t.Error("the attacker's address got the undo link")
		}
		link := undoLink.FindString(notice.Body)
		if link == "" {
			t.Fatalf("no undo link in the notice:\n%s", notice.Body)
		}
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		mailbox := b.newIsolatedTab("old-mailbox")
		mailbox.open("/dev/outbox")
		mailbox.shot("old-mailbox-contact-changed-notice")

		a.open(u.Path)
		a.expectPage(u.Path, "ja", "身に覚えのない変更の取り消し")
		if got := a.text("#old-contact"); got != "h***@example.jp" {
			t.Errorf("old contact shown as %q", got)
		}
		a.shot("undo-page")
		a.follow("#undo")
		if got := a.text("#notice"); !strings.Contains(got, "元の連絡先に戻し") {
			t.Errorf("after undo: %q", got)
		}
		a.shot("undo-done-enter-code")
		a.fill("#code", j.mail(email, "code.recovery", 1).Code)
		a.follow("#verify")
		a.fill("#password", finalPass)
		a.follow("#set-password")
		j5SignIn(a, email, finalPass, "/account")
		ids := a.text("#identifiers")
		if !strings.Contains(ids, email) || strings.Contains(ids, evilMail) {
			t.Errorf("identifiers after recovery: %q", ids)
		}
		a.shot("owner-back-in")

		// The attacker's password and address are gone.
		j5SignIn(x, evilMail, evilPass, "/signin")
		j5SignIn(x, email, evilPass, "/signin")
		x.shot("attacker-refused")
	})
}
